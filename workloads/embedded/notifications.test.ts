// Notifications on the memory backends: what an offline member finds on return (a direct
// message, a mention; nothing from a muted room or while online), the unread count in welcome
// and pushed to open sockets when it changes, paging, marking read, and a replay of the same
// bus records recording nothing twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session, waitFor } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("notifications on the memory backends", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let ann: Session;
  let ben: Session;
  let cat: Session;
  let dan: Session;
  const url = () => cluster.urls[0] as string;
  const list = (s: Session, query = "") =>
    rest.ok("GET", `/v1/notifications${query}`, undefined, s.accessToken);

  before(async () => {
    cluster = await startCluster({
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
    });
    rest = new Rest(url());
    [ann, ben, cat, dan] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("cat"),
      rest.register("dan"),
    ]);
  });

  after(async () => {
    await cluster.stop();
  });

  it("an offline member finds a direct message and a mention, nothing from a muted room", async () => {
    const group = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "team", members: [ben.userId, cat.userId] },
      ann.accessToken,
    );
    const noisy = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "noisy", members: [ben.userId, dan.userId] },
      ann.accessToken,
    );
    await rest.ok("PUT", `/v1/rooms/${noisy.id}/mute`, undefined, ben.accessToken);
    assert.deepEqual(await rest.ok("GET", "/v1/mutes", undefined, ben.accessToken), {
      room_ids: [noisy.id],
    });
    // cat is online: her mention gives her nothing
    const catSocket = await ChatSocket.open(url(), cat.accessToken);
    const annSocket = await ChatSocket.open(url(), ann.accessToken);
    try {
      const send = (f: Record<string, unknown>) =>
        annSocket.request({ type: "message", msg_type: "text", ...f });
      const direct = await send({
        to_user_id: ben.userId,
        client_msg_id: "d1",
        content: { text: "hi ben" },
      });
      const mention = await send({
        room_id: group.id,
        client_msg_id: "m1",
        content: { text: "@ben and @cat, look at this" },
      });
      await send({ room_id: group.id, client_msg_id: "m2", content: { text: "no names here" } });
      await send({ room_id: noisy.id, client_msg_id: "x1", content: { text: "@ben muted" } });
      // dan's mention comes after ben's muted one in the same room (one partition, one order):
      // once dan has it, the muted message was handled
      await send({ room_id: noisy.id, client_msg_id: "x2", content: { text: "@dan you too" } });
      await waitFor("dan's notification", async () =>
        (await list(dan)).notifications.length === 1 ? true : undefined,
      );
      await waitFor("ben's two notifications", async () =>
        (await list(ben)).notifications.length === 2 ? true : undefined,
      );
      const got = await list(ben);
      assert.equal(got.unread, 2);
      assert.deepEqual(
        got.notifications
          .map((n: { id: string; kind: string; room_id: string; sender_id: string }) => [
            n.id,
            n.kind,
            n.room_id,
            n.sender_id,
          ])
          .sort(),
        [
          [direct.message_id, "direct", direct.room_id, ann.userId],
          [mention.message_id, "mention", group.id, ann.userId],
        ].sort(),
      );
      assert.deepEqual((await list(cat)).notifications, []);
      assert.deepEqual((await list(ann)).notifications, [], "the sender is never notified");

      const benSocket = await ChatSocket.open(url(), ben.accessToken);
      try {
        const welcome = benSocket.frames.find((f) => f.type === "welcome");
        assert.equal(welcome?.unread_notifications, 2);
      } finally {
        await benSocket.close();
      }
    } finally {
      await Promise.all([catSocket.close(), annSocket.close()]);
    }
  });

  it("pages newest first and marks one, then all up to a cursor, read", async () => {
    const [eve, fay] = await Promise.all([rest.register("eve"), rest.register("fay")]);
    const s = await ChatSocket.open(url(), eve.accessToken);
    try {
      for (let i = 0; i < 5; i++) {
        await s.request({
          type: "message",
          to_user_id: fay.userId,
          client_msg_id: `p${i}`,
          msg_type: "text",
          content: { text: `message ${i}` },
        });
      }
    } finally {
      await s.close();
    }
    await waitFor("fay's five notifications", async () =>
      (await list(fay, "?limit=100")).notifications.length === 5 ? true : undefined,
    );
    const first = await list(fay, "?limit=2");
    assert.equal(first.notifications.length, 2);
    const second = await list(fay, `?limit=2&before=${first.next_before}`);
    const third = await list(fay, `?limit=2&before=${second.next_before}`);
    assert.equal(third.next_before, undefined);
    const excerpts = [...first.notifications, ...second.notifications, ...third.notifications].map(
      (n: { excerpt: string }) => n.excerpt,
    );
    assert.deepEqual(
      excerpts,
      [4, 3, 2, 1, 0].map((i) => `message ${i}`),
    );

    const newest = first.notifications[0];
    const marked = await rest.ok(
      "POST",
      `/v1/notifications/${newest.id}/read`,
      undefined,
      fay.accessToken,
    );
    assert.equal(marked.read, true);
    const unknown = await rest.call(
      "POST",
      `/v1/notifications/${ann.userId}/read`,
      undefined,
      fay.accessToken,
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NOTIFICATION_NOT_FOUND");

    const upTo = second.notifications[0].cursor;
    const left = await rest.ok("POST", "/v1/notifications/read", { up_to: upTo }, fay.accessToken);
    assert.equal(left.unread, 1, "only the second newest is left unread");
    const bad = await rest.call(
      "POST",
      "/v1/notifications/read",
      { up_to: "nonsense" },
      fay.accessToken,
    );
    assert.equal(bad.status, 400);
    const none = await rest.ok("POST", "/v1/notifications/read", {}, fay.accessToken);
    assert.equal(none.unread, 0);
  });

  it("a room can be muted only by a member, and unmuted", async () => {
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "private", members: [] },
      ann.accessToken,
    );
    const refused = await rest.call("PUT", `/v1/rooms/${room.id}/mute`, undefined, ben.accessToken);
    assert.equal(refused.status, 403);
    await rest.ok("PUT", `/v1/rooms/${room.id}/mute`, undefined, ann.accessToken);
    await rest.ok("DELETE", `/v1/rooms/${room.id}/mute`, undefined, ann.accessToken);
    assert.deepEqual((await rest.ok("GET", "/v1/mutes", undefined, ann.accessToken)).room_ids, []);
  });
});

describe("the unread count pushed to open sockets (two gateways)", () => {
  let cluster: InProcessCluster;

  before(async () => {
    cluster = await startCluster({
      gateways: 2,
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
    });
  });

  after(async () => {
    await cluster.stop();
  });

  it("marking read on one device sends the new count to every socket of the user, on every gateway", async () => {
    const [a, b] = cluster.urls as [string, string];
    const rest = new Rest(a);
    const [eve, fay, gil] = await Promise.all([
      rest.register("eve"),
      rest.register("fay"),
      rest.register("gil"),
    ]);
    // fay is away while eve writes to her twice
    const sender = await ChatSocket.open(a, eve.accessToken);
    const sent = [];
    for (const text of ["one", "two"]) {
      const ack = await sender.request({
        type: "message",
        to_user_id: fay.userId,
        client_msg_id: text,
        msg_type: "text",
        content: { text },
      });
      assert.equal(ack.type, "ack", JSON.stringify(ack));
      sent.push(ack);
    }
    await sender.close();
    const list = (s: Session) => rest.ok("GET", "/v1/notifications", undefined, s.accessToken);
    await waitFor("fay's two notifications", async () =>
      (await list(fay)).unread === 2 ? true : undefined,
    );

    // fay comes back with a phone on one gateway and a laptop on the other; gil is online too
    const phone = await ChatSocket.open(a, fay.accessToken);
    const laptop = await ChatSocket.open(b, fay.accessToken);
    const other = await ChatSocket.open(b, gil.accessToken);
    try {
      for (const s of [phone, laptop]) {
        assert.equal(s.frames.find((f) => f.type === "welcome")?.unread_notifications, 2);
      }
      // the phone reads one: both devices learn the count is 1
      await rest.ok(
        "POST",
        `/v1/notifications/${sent[0]?.message_id}/read`,
        undefined,
        fay.accessToken,
      );
      for (const s of [phone, laptop]) {
        await s.waitFor((f) => f.type === "notifications" && f.unread === 1, "the count 1");
      }
      // the laptop marks all read (through the other gateway): 0 everywhere
      await new Rest(b).ok("POST", "/v1/notifications/read", {}, fay.accessToken);
      for (const s of [phone, laptop]) {
        await s.waitFor((f) => f.type === "notifications" && f.unread === 0, "the count 0");
      }
      // a ping answered after them shows nothing else is on its way to gil
      await other.request({ type: "ping" });
      assert.equal(other.frames.filter((f) => f.type === "notifications").length, 0);
    } finally {
      await Promise.all([phone.close(), laptop.close(), other.close()]);
    }
  });
});
