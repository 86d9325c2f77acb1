// The messaging path end to end, in one process, on the memory backends: two gateways and one
// forwarder. The same scenarios run against the real stack in e2e/messaging.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, type Frame, Rest, type Session } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("messaging on the memory backends (two gateways)", () => {
  let cluster: InProcessCluster;
  let a: Rest;
  let b: Rest;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let eve: Session;
  let roomId: string;

  before(async () => {
    cluster = await startCluster({ gateways: 2 });
    a = new Rest(cluster.urls[0] as string);
    b = new Rest(cluster.urls[1] as string);
    [alice, bob, carol, eve] = await Promise.all([
      a.register("alice"),
      a.register("bob"),
      b.register("carol"),
      b.register("eve"),
    ]);
    const room = await a.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "team", members: [bob.userId, carol.userId] },
      alice.accessToken,
    );
    roomId = room.id;
  });

  after(async () => {
    await cluster.stop();
  });

  it("delivers a message sent on gateway A to every member on gateway B, once, in order, with gap-free seqs", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    const sb = await ChatSocket.open(cluster.urls[1] as string, bob.accessToken);
    const sc = await ChatSocket.open(cluster.urls[1] as string, carol.accessToken);
    const se = await ChatSocket.open(cluster.urls[1] as string, eve.accessToken);
    try {
      const n = 20;
      for (let i = 0; i < n; i++) {
        sa.send({
          type: "message",
          room_id: roomId,
          client_msg_id: `m${i}`,
          msg_type: "text",
          content: { text: `hello ${i}` },
        });
      }
      const acks = await sa.waitForCount((f) => f.type === "ack", n, "acks");
      const seqs = acks.map((f) => f.seq as number);
      for (const s of [sb, sc]) {
        const got = await s.waitForCount(
          (f) => f.type === "message" && f.room_id === roomId,
          n,
          "messages",
        );
        assert.deepEqual(
          got.map((f) => f.seq),
          seqs,
          "receivers see the sender's seqs in the same order",
        );
        assert.deepEqual(
          got.map((f) => (f.content as { text: string }).text),
          Array.from({ length: n }, (_, i) => `hello ${i}`),
        );
      }
      const first = seqs[0] as number;
      assert.deepEqual(
        seqs,
        Array.from({ length: n }, (_, i) => first + i),
        "seqs have no gaps",
      );
      // the sender gets acks, not copies
      assert.equal(sa.messages(roomId).length, 0);
      // a marker through a room eve is in proves eve's socket was live; she got nothing of the group
      const dm = await a.ok(
        "POST",
        "/v1/rooms",
        { kind: "direct", user_id: eve.userId },
        alice.accessToken,
      );
      await se.waitFor(
        (f) => f.type === "user_joined" && f.room_id === dm.id,
        "eve subscribed to the direct room",
      );
      sa.send({
        type: "message",
        room_id: dm.id,
        client_msg_id: "marker",
        msg_type: "text",
        content: { text: "marker" },
      });
      await se.waitFor((f) => f.type === "message" && f.room_id === dm.id, "the marker");
      assert.equal(se.messages(roomId).length, 0, "a non-member received a room message");
    } finally {
      await Promise.all([sa.close(), sb.close(), sc.close(), se.close()]);
    }
  });

  it("creates one message for a retry with the same client_msg_id", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    const sb = await ChatSocket.open(cluster.urls[1] as string, bob.accessToken);
    try {
      const frame = {
        type: "message",
        room_id: roomId,
        client_msg_id: "retry-1",
        msg_type: "text",
        content: { text: "once" },
      };
      const ack1 = await sa.request(frame);
      const ack2 = await sa.request(frame);
      assert.equal(ack1.type, "ack");
      assert.equal(ack2.type, "ack");
      assert.equal(ack1.message_id, ack2.message_id);
      assert.equal(ack1.seq, ack2.seq);
      // a later message proves bob has seen everything before it
      const after = await sa.request({
        ...frame,
        client_msg_id: "retry-2",
        content: { text: "after" },
      });
      await sb.waitFor((f) => f.type === "message" && f.seq === after.seq, "the later message");
      assert.equal(
        sb.frames.filter((f) => f.type === "message" && f.client_msg_id === "retry-1").length,
        1,
      );
      const history = await b.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?limit=100`,
        undefined,
        bob.accessToken,
      );
      assert.equal(history.messages.filter((m: Frame) => m.client_msg_id === "retry-1").length, 1);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("a reply names an earlier message of its room: members and history see reply_to, other seqs are refused", async () => {
    // people of its own: the sends here do not spend the others' rate limit
    const [rita, ravi] = await Promise.all([a.register("rita"), b.register("ravi")]);
    const room = await a.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "replies", members: [ravi.userId] },
      rita.accessToken,
    );
    const sa = await ChatSocket.open(cluster.urls[0] as string, rita.accessToken);
    const sb = await ChatSocket.open(cluster.urls[1] as string, ravi.accessToken);
    try {
      const send = (clientMsgId: string, extra: Record<string, unknown>) =>
        sa.request({
          type: "message",
          room_id: room.id,
          client_msg_id: clientMsgId,
          msg_type: "text",
          content: { text: clientMsgId },
          ...extra,
        });
      const empty = await send("too-early", { reply_to: 1 });
      assert.equal(empty.code, "REPLY_TO_NOT_FOUND", JSON.stringify(empty));
      const first = await send("first", {});
      assert.equal(first.type, "ack", JSON.stringify(first));
      const reply = await send("reply", { reply_to: first.seq });
      assert.equal(reply.type, "ack", JSON.stringify(reply));
      const beyond = await send("beyond", { reply_to: (reply.seq as number) + 1 });
      assert.equal(beyond.code, "REPLY_TO_NOT_FOUND");
      assert.match(beyond.message as string, /the room's messages are 1 to 2/);
      for (const bad of [0, -1, 1.5, "1"]) {
        const refused = await send("bad", { reply_to: bad });
        assert.equal(refused.code, "INVALID_FRAME", `reply_to ${JSON.stringify(bad)}`);
      }
      const got = await sb.waitFor(
        (f) => f.type === "message" && f.message_id === reply.message_id,
        "the reply at ravi",
      );
      assert.equal(got.reply_to, first.seq);
      const history = await b.ok(
        "GET",
        `/v1/rooms/${room.id}/messages?limit=10`,
        undefined,
        ravi.accessToken,
      );
      assert.deepEqual(
        history.messages.map((m: Frame) => [m.client_msg_id, m.reply_to]),
        [
          ["first", undefined],
          ["reply", first.seq],
        ],
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("answers every request of a burst of duplicates, on every socket of the sender, with the same ack", async () => {
    const url = cluster.urls[0] as string;
    const s1 = await ChatSocket.open(url, alice.accessToken);
    const s2 = await ChatSocket.open(url, alice.accessToken);
    try {
      const frame = {
        type: "message",
        room_id: roomId,
        client_msg_id: "burst-1",
        msg_type: "text",
        content: { text: "five times" },
      };
      // five sends of one client_msg_id without waiting, then the same from a second socket
      const ids = ["P0", "P1", "P2", "P3", "P4"];
      for (const id of ids) s1.send({ ...frame, id });
      s2.send({ ...frame, id: "Q0" });
      const answers = await s1.waitForCount(
        (f) => typeof f.id === "string" && ids.includes(f.id),
        ids.length,
        "answers to P0..P4",
      );
      const other = await s2.waitFor((f) => f.id === "Q0", "the answer to Q0");
      for (const f of [...answers, other]) {
        assert.equal(f.type, "ack", JSON.stringify(f));
        assert.equal(f.message_id, other.message_id);
        assert.equal(f.seq, other.seq);
      }
      assert.deepEqual(answers.map((f) => f.id).sort(), ids);
      // a socket's own request is answered with its ack, not (also) echoed as a message
      const later = await s1.request({ ...frame, client_msg_id: "burst-2" });
      await s2.waitFor((f) => f.type === "message" && f.seq === later.seq, "the later message");
      for (const s of [s1, s2]) {
        assert.equal(
          s.frames.filter((f) => f.client_msg_id === "burst-1").length,
          s === s1 ? 5 : 1,
        );
        assert.equal(s.messages(roomId).filter((f) => f.client_msg_id === "burst-1").length, 0);
      }
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });

  it("a client_msg_id reused in another room is a new message there, acked with that room's seq", async () => {
    const other = await a.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "other", members: [bob.userId] },
      alice.accessToken,
    );
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      const frame = {
        type: "message",
        client_msg_id: "reused-across-rooms",
        msg_type: "text",
        content: { text: "same id" },
      };
      const first = await sa.request({ ...frame, room_id: roomId });
      const second = await sa.request({ ...frame, room_id: other.id });
      assert.equal(first.type, "ack");
      assert.equal(second.type, "ack");
      assert.equal(
        second.room_id,
        other.id,
        "the ack answers for the room the message was sent to",
      );
      assert.notEqual(second.message_id, first.message_id);
      assert.equal(second.seq, 1, "the first message of the new room");
      const history = await b.ok(
        "GET",
        `/v1/rooms/${other.id}/messages?limit=10`,
        undefined,
        bob.accessToken,
      );
      assert.deepEqual(
        history.messages.map((m: Frame) => [m.client_msg_id, m.seq]),
        [["reused-across-rooms", 1]],
      );
    } finally {
      await sa.close();
    }
  });

  it("resumes on another gateway with exactly what was missed, before live messages", async () => {
    const sb = await ChatSocket.open(cluster.urls[1] as string, bob.accessToken);
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      const first = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "r-0",
        msg_type: "text",
        content: { text: "before" },
      });
      await sb.waitFor((f) => f.type === "message" && f.seq === first.seq);
      await sb.close();
      const missed: number[] = [];
      for (let i = 1; i <= 5; i++) {
        const ack = await sa.request({
          type: "message",
          room_id: roomId,
          client_msg_id: `r-${i}`,
          msg_type: "text",
          content: { text: `missed ${i}` },
        });
        missed.push(ack.seq as number);
      }
      const again = await ChatSocket.open(cluster.urls[0] as string, bob.accessToken, {
        [roomId]: first.seq as number,
      });
      try {
        const live = await sa.request({
          type: "message",
          room_id: roomId,
          client_msg_id: "r-live",
          msg_type: "text",
          content: { text: "live" },
        });
        const got = await again.waitForCount(
          (f) => f.type === "message" && f.room_id === roomId,
          6,
          "messages",
        );
        assert.deepEqual(
          got.map((f) => f.seq),
          [...missed, live.seq],
        );
      } finally {
        await again.close();
      }
    } finally {
      await sa.close();
    }
  });

  it("answers bad frames with their documented errors and keeps the socket and its neighbours working", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    const sb = await ChatSocket.open(cluster.urls[0] as string, bob.accessToken);
    try {
      sa.send("not json");
      await sa.waitFor((f) => f.type === "error" && f.code === "INVALID_FRAME");
      const unknown = await sa.request({ type: "teleport" });
      assert.equal(unknown.code, "INVALID_FRAME");
      const badField = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "x",
        msg_type: "text",
        content: { text: 5 },
      });
      assert.equal(badField.code, "INVALID_FRAME");
      const both = await sa.request({
        type: "message",
        room_id: roomId,
        to_user_id: bob.userId,
        client_msg_id: "x",
        msg_type: "text",
        content: { text: "x" },
      });
      assert.equal(both.code, "INVALID_FRAME");
      const emptyText = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "x",
        msg_type: "text",
        content: { text: " " },
      });
      assert.equal(emptyText.code, "BAD_REQUEST");
      const otherRoom = await a.ok(
        "POST",
        "/v1/rooms",
        { kind: "group", name: "private" },
        carol.accessToken,
      );
      const notMember = await sa.request({
        type: "message",
        room_id: otherRoom.id,
        client_msg_id: "x",
        msg_type: "text",
        content: { text: "x" },
      });
      assert.equal(notMember.code, "NOT_A_MEMBER");
      const seenAhead = await sa.request({ type: "seen", room_id: roomId, seq: 1_000_000 });
      assert.equal(seenAhead.code, "BAD_REQUEST");
      // the same socket still works, and so does its neighbour
      const ok = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "after-errors",
        msg_type: "text",
        content: { text: "fine" },
      });
      assert.equal(ok.type, "ack");
      await sb.waitFor((f) => f.type === "message" && f.seq === ok.seq);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("closes an oversized frame with 1009 and refuses an unauthenticated upgrade", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    sa.send(JSON.stringify({ type: "ping", pad: "x".repeat(20_000) }));
    const { waitFor } = await import("../../e2e/testkit/wait.ts");
    await waitFor("the close", () => sa.closeCode);
    assert.equal(sa.closeCode, 1009);
    await assert.rejects(ChatSocket.connect(cluster.urls[0] as string, "not-a-token"), /401/);
  });

  it("rejects bad REST input with clear errors", async () => {
    const r1 = await a.call("POST", "/v1/auth/register", { username: "x", password: "short" });
    assert.equal(r1.status, 400);
    assert.equal(r1.body.error.code, "BAD_REQUEST");
    const r2 = await a.call("POST", "/v1/auth/register", {
      username: "alice",
      password: "password-123",
    });
    assert.equal(r2.status, 409);
    assert.equal(r2.body.error.code, "USERNAME_TAKEN");
    const r3 = await a.call("GET", "/v1/me");
    assert.equal(r3.status, 401);
    const r4 = await a.call(
      "GET",
      `/v1/rooms/${roomId}/messages?limit=500`,
      undefined,
      alice.accessToken,
    );
    assert.equal(r4.status, 400);
    const r5 = await a.call("GET", `/v1/rooms/${roomId}/messages`, undefined, eve.accessToken);
    assert.equal(r5.status, 403);
    assert.equal(r5.body.error.code, "NOT_A_MEMBER");
    const r6 = await a.call("POST", "/v1/rooms", "{not json", alice.accessToken);
    assert.equal(r6.status, 400);
  });
});
