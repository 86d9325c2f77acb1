// Random matching end to end on the memory backends: gateway, forwarder and matcher in one
// process, two gateways, users on WebSocket and REST. The same scenarios run against the real
// stack, with matcher processes, in e2e/matching.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ChatSocket, type Frame, Rest, type Session, waitFor } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("random matching on the embedded default", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let n = 0;
  const user = () => rest.register(`u${n++}_${randomUUID().slice(0, 6)}`);
  const url = (i: number) => cluster.urls[i] as string;
  const ticket = (s: Session, id: string) =>
    rest.ok("GET", `/v1/match/${id}`, undefined, s.accessToken);

  before(async () => {
    cluster = await startCluster({ gateways: 2, matcher: { pairIntervalMs: 10 } });
    rest = new Rest(url(0));
  });

  after(async () => {
    await cluster.stop();
  });

  it("matches two users over WebSocket: one room with both, each told the other's public profile", async () => {
    const [alice, bob] = await Promise.all([user(), user()]);
    const [sa, sb] = await Promise.all([
      ChatSocket.open(url(0), alice.accessToken),
      ChatSocket.open(url(1), bob.accessToken),
    ]);
    try {
      const ta = await sa.request({ type: "match", request_id: "a1", tags: ["Chess"] });
      assert.equal(ta.type, "match_ticket");
      const tb = await sb.request({ type: "match", request_id: "b1", tags: ["chess", "go"] });
      const ma = await sa.waitFor((f) => f.type === "matched", "alice's match");
      const mb = await sb.waitFor((f) => f.type === "matched", "bob's match");
      assert.equal(ma.room_id, mb.room_id);
      assert.equal(ma.ticket_id, ta.ticket_id);
      assert.equal(mb.ticket_id, tb.ticket_id);
      assert.deepEqual(ma.partner, {
        id: bob.userId,
        username: bob.username,
        display_name: bob.username,
      });
      assert.equal((mb.partner as { id: string }).id, alice.userId);
      const roomId = ma.room_id as string;
      const room = await rest.ok("GET", `/v1/rooms/${roomId}`, undefined, alice.accessToken);
      assert.equal(room.kind, "match");
      const members = await rest.ok(
        "GET",
        `/v1/rooms/${roomId}/members`,
        undefined,
        bob.accessToken,
      );
      assert.deepEqual(
        members.members.map((m: { user_id: string }) => m.user_id).sort(),
        [alice.userId, bob.userId].sort(),
      );

      const again = await sa.request({ type: "match", request_id: "a1", tags: ["chess"] });
      assert.equal(again.ticket_id, ta.ticket_id, "a retry gets the same ticket");
      assert.equal(again.state, "matched");
      assert.equal(again.room_id, roomId);

      const sent = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "hi",
        msg_type: "text",
        content: { text: "hi stranger" },
      });
      assert.equal(sent.type, "ack");
      await sb.waitFor(
        (f) => f.type === "message" && f.message_id === sent.message_id,
        "the hello",
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("ends a match for both when one leaves: user_left to the other, and the room takes no more messages", async () => {
    const [alice, bob] = await Promise.all([user(), user()]);
    const [sa, sb] = await Promise.all([
      ChatSocket.open(url(0), alice.accessToken),
      ChatSocket.open(url(1), bob.accessToken),
    ]);
    try {
      sa.send({ type: "match", request_id: "x", tags: ["leave-test"] });
      sb.send({ type: "match", request_id: "y", tags: ["leave-test"] });
      const m = await sb.waitFor((f) => f.type === "matched", "bob's match");
      const roomId = m.room_id as string;
      await sa.waitFor((f) => f.type === "matched", "alice's match");
      const left = await sa.request({ type: "leave", room_id: roomId });
      assert.deepEqual([left.type, left.user_id], ["user_left", alice.userId]);
      const told = await sb.waitFor(
        (f) => f.type === "user_left" && f.room_id === roomId && f.user_id === alice.userId,
        "bob told alice left",
      );
      assert.equal(told.room_id, roomId);
      await sb.waitFor(
        (f) => f.type === "user_left" && f.room_id === roomId && f.user_id === bob.userId,
        "bob removed too",
      );
      const refused = await sb.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "late",
        msg_type: "text",
        content: { text: "still there?" },
      });
      assert.deepEqual([refused.type, refused.code], ["error", "NOT_A_MEMBER"]);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("never matches a ticket cancelled before pairing", async () => {
    const [carol, dave, erin] = await Promise.all([user(), user(), user()]);
    const sc = await ChatSocket.open(url(0), carol.accessToken);
    try {
      const t = await sc.request({ type: "match", request_id: "c", tags: ["cancel-test"] });
      const c = await sc.request({ type: "match_cancel", ticket_id: t.ticket_id });
      assert.deepEqual([c.type, c.state], ["match_ticket", "cancelled"]);
      const none = await sc.request({ type: "match_cancel" });
      assert.deepEqual([none.type, none.code], ["error", "MATCH_TICKET_NOT_FOUND"]);
      const td = await rest.ok(
        "POST",
        "/v1/match",
        { request_id: "d", tags: ["cancel-test"] },
        dave.accessToken,
      );
      const te = await rest.ok(
        "POST",
        "/v1/match",
        { request_id: "e", tags: ["cancel-test"] },
        erin.accessToken,
      );
      const [md, me] = await Promise.all([
        waitFor("dave matched", async () =>
          (await ticket(dave, td.id)).state === "matched" ? ticket(dave, td.id) : undefined,
        ),
        waitFor("erin matched", async () =>
          (await ticket(erin, te.id)).state === "matched" ? ticket(erin, te.id) : undefined,
        ),
      ]);
      assert.equal(
        md.partner.id,
        erin.userId,
        "dave was paired with erin, not the cancelled carol",
      );
      assert.equal(me.room_id, md.room_id);
      assert.equal((await ticket(carol, t.ticket_id as string)).state, "cancelled");
      assert.equal(sc.frames.filter((f: Frame) => f.type === "matched").length, 0);
    } finally {
      await sc.close();
    }
  });

  it("drops a user's pending ticket when their last socket on the cluster closes, not before", async () => {
    const frank = await user();
    const tab1 = await ChatSocket.open(url(0), frank.accessToken);
    const tab2 = await ChatSocket.open(url(1), frank.accessToken);
    const t = await tab1.request({ type: "match", request_id: "f", tags: ["tabs-test"] });
    const id = t.ticket_id as string;
    await tab1.close();
    // the other tab is still open: a marker request through it proves the close was handled
    const marker = await tab2.request({ type: "match", request_id: "f2", tags: ["tabs-test"] });
    assert.equal(marker.ticket_id, id, "still pending: one ticket per user");
    assert.equal((await ticket(frank, id)).state, "pending");
    await tab2.close();
    await waitFor("the ticket cancelled", async () =>
      (await ticket(frank, id)).state === "cancelled" ? true : undefined,
    );
  });

  it("serves the match REST API with stable errors, and lists it in the OpenAPI document", async () => {
    const [gina, hal] = await Promise.all([user(), user()]);
    const t = await rest.ok(
      "POST",
      "/v1/match",
      { request_id: "g", tags: ["rest-test"], language: "EN" },
      gina.accessToken,
    );
    assert.deepEqual([t.state, t.tags, t.language], ["pending", ["rest-test"], "en"]);
    const onOther = await new Rest(url(1)).ok(
      "POST",
      "/v1/match",
      { request_id: "g" },
      gina.accessToken,
    );
    assert.equal(onOther.id, t.id, "the same request on the other gateway: the same ticket");
    const bad = await rest.call("POST", "/v1/match", { request_id: "" }, gina.accessToken);
    assert.deepEqual([bad.status, bad.body.error.code], [400, "BAD_REQUEST"]);
    const unknown = await rest.call(
      "GET",
      `/v1/match/${randomUUID()}`,
      undefined,
      gina.accessToken,
    );
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, "MATCH_TICKET_NOT_FOUND"]);
    const notHers = await rest.call("DELETE", `/v1/match/${t.id}`, undefined, hal.accessToken);
    assert.deepEqual([notHers.status, notHers.body.error.code], [404, "MATCH_TICKET_NOT_FOUND"]);
    const th = await rest.ok(
      "POST",
      "/v1/match",
      { request_id: "h", tags: ["rest-test"] },
      hal.accessToken,
    );
    const matched = await waitFor("hal matched", async () => {
      const s = await ticket(hal, th.id);
      return s.state === "matched" ? s : undefined;
    });
    assert.equal(matched.partner.username, gina.username);
    const late = await rest.call("DELETE", `/v1/match/${t.id}`, undefined, gina.accessToken);
    assert.deepEqual([late.status, late.body.error.code], [409, "MATCH_ALREADY_MATCHED"]);
    const doc = await rest.ok("GET", "/openapi.json");
    assert.ok(doc.paths["/v1/match"]?.post);
    assert.ok(doc.paths["/v1/match/{ticket_id}"]?.get);
    assert.ok(doc.paths["/v1/match/{ticket_id}"]?.delete);
  });
});
