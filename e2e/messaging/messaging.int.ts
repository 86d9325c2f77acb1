// The messaging path on the real stack: Kafka, Cassandra and Redis, with two gateway and two
// forwarder processes. These are the "done when" scenarios.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ChatSocket,
  ChatStack,
  type Frame,
  Rest,
  type Session,
  waitFor,
} from "../testkit/index.ts";

const text = (t: string) => ({ msg_type: "text", content: { text: t } });

describe("messaging on the real stack (2 gateways, 2 forwarders)", () => {
  let stack: ChatStack;
  let rest: Rest;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let eve: Session;

  before(async () => {
    stack = await ChatStack.start({
      gateways: 2,
      forwarders: 2,
      env: { KAFKA_SESSION_TIMEOUT_MS: "6000" },
    });
    rest = new Rest(stack.gateways[0]?.url as string);
    [alice, bob, carol, eve] = await Promise.all([
      rest.register("alice"),
      rest.register("bob"),
      rest.register("carol"),
      rest.register("eve"),
    ]);
  });

  after(async () => {
    await stack.stop();
  });

  const group = async (name: string, members: Session[]) =>
    (
      await rest.ok(
        "POST",
        "/v1/rooms",
        { kind: "group", name, members: members.map((m) => m.userId) },
        alice.accessToken,
      )
    ).id as string;
  const gw = (i: number) => stack.gateways[i]?.url as string;

  it("delivers a message sent on gateway A to every member on gateway B once, in room order, gap-free; non-members get nothing", async () => {
    const roomId = await group("cross", [bob, carol]);
    const other = await group("marker", [eve]);
    const [sa, sb, sc, se] = await Promise.all([
      ChatSocket.open(gw(0), alice.accessToken),
      ChatSocket.open(gw(1), bob.accessToken),
      ChatSocket.open(gw(1), carol.accessToken),
      ChatSocket.open(gw(1), eve.accessToken),
    ]);
    try {
      const n = 50;
      await sa.sendMessages(roomId, n, { prefix: "m" });
      const acks = await sa.waitForCount(
        (f) => f.type === "ack" && f.room_id === roomId,
        n,
        "acks",
      );
      const bySeq = acks.map((f) => f.seq as number).sort((x, y) => x - y);
      assert.deepEqual(
        bySeq,
        Array.from({ length: n }, (_, i) => i + 1),
        "seqs 1..n without gaps",
      );
      for (const s of [sb, sc]) {
        const got = await s.waitForCount(
          (f) => f.type === "message" && f.room_id === roomId,
          n,
          "messages",
        );
        assert.deepEqual(
          got.map((f) => f.seq),
          bySeq,
          "in seq order, once each",
        );
        assert.deepEqual(
          got.map((f) => (f.content as { text: string }).text),
          Array.from({ length: n }, (_, i) => `m${i}`),
          "in send order",
        );
      }
      const marker = await sa.request({
        type: "message",
        room_id: other,
        client_msg_id: "marker",
        ...text("marker"),
      });
      await se.waitFor(
        (f) => f.type === "message" && f.message_id === marker.message_id,
        "the marker",
      );
      assert.equal(se.messages(roomId).length, 0, "a non-member received a message");
    } finally {
      await Promise.all([sa, sb, sc, se].map((s) => s.close()));
    }
  });

  it("creates one message for a sender's retry with the same client_msg_id", async () => {
    const roomId = await group("retry", [bob]);
    const sa = await ChatSocket.open(gw(0), alice.accessToken);
    const sa2 = await ChatSocket.open(gw(1), alice.accessToken);
    try {
      const frame = { type: "message", room_id: roomId, client_msg_id: "same", ...text("once") };
      const first = await sa.request(frame);
      const retryElsewhere = await sa2.request(frame);
      assert.equal(first.type, "ack");
      assert.equal(retryElsewhere.message_id, first.message_id);
      assert.equal(retryElsewhere.seq, first.seq);
      const page = await rest.ok("GET", `/v1/rooms/${roomId}/messages`, undefined, bob.accessToken);
      assert.equal(page.messages.length, 1);
    } finally {
      await Promise.all([sa.close(), sa2.close()]);
    }
  });

  it("loses no acknowledged message and duplicates none when a forwarder is SIGKILLed mid-stream", async () => {
    const roomId = await group("crash-forwarder", [bob]);
    const sa = await ChatSocket.open(gw(0), alice.accessToken);
    const sb = await ChatSocket.open(gw(1), bob.accessToken);
    try {
      const n = 200;
      await sa.sendMessages(roomId, n, {
        prefix: "k",
        between: async (i) => {
          if (i !== 60) return;
          await sa.waitForCount(
            (f) => f.type === "ack" && f.room_id === roomId,
            20,
            "acks before the crash",
          );
          await stack.forwarders[0]?.kill();
        },
      });
      assert.ok(stack.forwarders[0]?.exited, "the forwarder was killed mid-stream");
      const acks = await sa.waitForCount(
        (f) => f.type === "ack" && f.room_id === roomId,
        n,
        "acks",
        90_000,
      );
      const got = await sb.waitForCount(
        (f) => f.type === "message" && f.room_id === roomId,
        n,
        "messages",
        90_000,
      );
      const ackedIds = new Set(acks.map((f) => f.message_id));
      assert.equal(ackedIds.size, n);
      assert.deepEqual(
        got.map((f) => f.seq),
        Array.from({ length: n }, (_, i) => i + 1),
        "once each, in order, gap-free",
      );
      assert.deepEqual(new Set(got.map((f) => f.message_id)), ackedIds);
      const stored = await history(roomId, bob);
      assert.deepEqual(
        stored.map((m) => m.seq),
        Array.from({ length: n }, (_, i) => i + 1),
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
      await stack.startForwarder({ KAFKA_SESSION_TIMEOUT_MS: "6000" });
    }
  });

  it("lets a gateway's clients resume on the other gateway with nothing missed when it is SIGKILLed", async () => {
    const roomId = await group("crash-gateway", [bob]);
    const victim = await stack.startGateway();
    const sa = await ChatSocket.open(gw(0), alice.accessToken);
    let sb = await ChatSocket.open(victim.url, bob.accessToken);
    const seen: Frame[] = [];
    try {
      const n = 100;
      await sa.sendMessages(roomId, n, {
        prefix: "g",
        between: async (i) => {
          if (i !== 40) return;
          await sb.waitForCount(
            (f) => f.type === "message" && f.room_id === roomId,
            10,
            "messages before the crash",
          );
          await victim.kill();
          await waitFor("the socket to notice", () => sb.closeCode);
          seen.push(...sb.messages(roomId));
          const last = Math.max(0, ...seen.map((f) => f.seq as number));
          sb = await ChatSocket.open(gw(1), bob.accessToken, { [roomId]: last });
        },
      });
      await sa.waitForCount((f) => f.type === "ack" && f.room_id === roomId, n, "acks", 60_000);
      const rest2 = await sb.waitForCount(
        (f) => f.type === "message" && f.room_id === roomId,
        n - seen.length,
        "messages after resuming",
        60_000,
      );
      const all = [...seen, ...rest2];
      assert.deepEqual(
        all.map((f) => f.seq),
        Array.from({ length: n }, (_, i) => i + 1),
        "nothing missed, nothing twice",
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("closes sockets with the resumable SHUTDOWN code on a graceful stop", async () => {
    const g = await stack.startGateway();
    const s = await ChatSocket.open(g.url, carol.accessToken);
    await g.stop();
    await waitFor("the close", () => s.closeCode);
    assert.equal(s.closeCode, 4001);
  });

  it("answers bad frames with their errors and leaves the other sockets on the pod alone", async () => {
    const roomId = await group("errors", [bob]);
    const sa = await ChatSocket.open(gw(0), alice.accessToken);
    const sb = await ChatSocket.open(gw(0), bob.accessToken);
    try {
      sa.send("{");
      await sa.waitFor((f) => f.type === "error" && f.code === "INVALID_FRAME");
      const forbidden = await sa.request({
        type: "message",
        room_id: await group("not-bobs", []),
        client_msg_id: "z",
        ...text("z"),
      });
      assert.equal(forbidden.type, "ack", "alice is a member of her own room");
      const bobIntruding = await sb.request({
        type: "message",
        room_id: forbidden.room_id as string,
        client_msg_id: "z",
        ...text("z"),
      });
      assert.equal(bobIntruding.code, "NOT_A_MEMBER");
      const ok = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "fine",
        ...text("fine"),
      });
      await sb.waitFor((f) => f.type === "message" && f.message_id === ok.message_id);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  async function history(roomId: string, who: Session): Promise<{ seq: number }[]> {
    const out: { seq: number }[] = [];
    let after = 0;
    for (;;) {
      const page = await rest.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?after=${after}&limit=100`,
        undefined,
        who.accessToken,
      );
      out.push(...page.messages);
      if (page.next_after === undefined) return out;
      after = page.next_after;
    }
  }
});
