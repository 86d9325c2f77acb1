// The server API (/v1/server/...) on the memory backends, two gateways and one forwarder: a
// backend posts as a bot or system sender through the same bus, order and store as users, with
// an idempotency key; creates rooms; adds and removes members; disconnects a user's sockets.
// The same message path on the real stack: e2e/messaging/server-api.int.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { createLogger } from "#contract/telemetry/log";
import { ChatSocket, type Frame, Rest, type Session, waitFor } from "../../e2e/testkit/index.ts";
import { Forwarder } from "../forwarder/forwarder.ts";
import { CloseCodes } from "../shared/protocol/close-codes.ts";
import { ServerMessageFrame } from "../shared/protocol/frames.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

const KEY = "k1-0123456789abcdef0123456789abcdef";
const OLD_KEY = "k0-0123456789abcdef0123456789abcdef";
const NO_ROOM = "00000000-0000-4000-8000-000000000000";
const text = (t: string) => ({ msg_type: "text", content: { text: t } });

describe("the server API on the memory backends (two gateways)", () => {
  let cluster: InProcessCluster;
  let a: Rest;
  let b: Rest;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let roomId: string;

  /** a server API call with a key (KEY unless told) */
  const server = (method: string, path: string, body?: unknown, key = KEY) =>
    a.call(method, `/v1/server${path}`, body, key);
  const post = (room: string, body: Record<string, unknown>, key = KEY) =>
    server("POST", `/rooms/${room}/messages`, body, key);

  before(async () => {
    cluster = await startCluster({
      gateways: 2,
      serverKeys: [OLD_KEY, KEY],
      limits: { userRate: { capacity: 10_000, refillPerSecond: 1000 } },
    });
    a = new Rest(cluster.urls[0] as string);
    b = new Rest(cluster.urls[1] as string);
    [alice, bob, carol] = await Promise.all([
      a.register("alice"),
      a.register("bob"),
      b.register("carol"),
    ]);
    const room = await a.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "team", members: [bob.userId] },
      alice.accessToken,
    );
    roomId = room.id;
  });

  after(async () => {
    await cluster.stop();
  });

  it("delivers a bot's message to online members in the room's seq order with users' messages, and keeps it in history", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    const sb = await ChatSocket.open(cluster.urls[1] as string, bob.accessToken);
    try {
      // users and the bot interleaved: 3 user messages, a bot message, 3 more, a system notice
      await sa.sendMessages(roomId, 3, { prefix: "u" });
      await sa.waitForCount((f) => f.type === "ack" && f.room_id === roomId, 3, "acks");
      const bot = await post(roomId, {
        idempotency_key: "weather-1",
        sender_id: "bot:weather",
        ...text("sunny"),
      });
      assert.equal(bot.status, 201, JSON.stringify(bot.body));
      assert.equal(bot.body.sender_id, "bot:weather");
      assert.equal(bot.body.client_msg_id, "weather-1");
      await sa.sendMessages(roomId, 3, { prefix: "v" });
      await sa.waitForCount((f) => f.type === "ack" && f.room_id === roomId, 6, "acks");
      const notice = await post(roomId, {
        idempotency_key: "notice-1",
        sender_id: "system",
        msg_type: "system",
        content: { text: "maintenance at noon" },
      });
      assert.equal(notice.status, 201, JSON.stringify(notice.body));

      const got = await sb.waitForCount((f) => f.type === "message" && f.room_id === roomId, 8);
      assert.deepEqual(
        got.map((f) => f.seq),
        [1, 2, 3, 4, 5, 6, 7, 8],
        "one gap-free order across user and server messages",
      );
      assert.deepEqual(
        got.map((f) => f.sender_id),
        [...Array(3).fill(alice.userId), "bot:weather", ...Array(3).fill(alice.userId), "system"],
      );
      const botFrame = got[3] as Frame;
      assert.equal(botFrame.seq, bot.body.seq);
      assert.equal(botFrame.message_id, bot.body.message_id);
      assert.deepEqual(botFrame.content, { text: "sunny" });
      assert.ok(Value.Check(ServerMessageFrame, botFrame), "a bot's message frame is valid");
      assert.ok(Value.Check(ServerMessageFrame, got[7]), "a system notice's frame is valid");
      // the sender of the user messages sees the bot's and the notice as message frames
      await sa.waitFor((f) => f.type === "message" && f.seq === notice.body.seq, "the notice");

      const history = await b.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?limit=100`,
        undefined,
        bob.accessToken,
      );
      const stored = history.messages.find((m: Frame) => m.message_id === bot.body.message_id);
      assert.deepEqual(stored, bot.body, "history holds the message as the API answered it");
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("answers a retry with the same idempotency key with the same message and creates nothing", async () => {
    const sb = await ChatSocket.open(cluster.urls[1] as string, bob.accessToken);
    try {
      const body = { idempotency_key: "deploy-42", sender_id: "bot:ci", ...text("deployed") };
      const first = await post(roomId, body);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      // a retry, then three at once, one of them with the other key of the rotation
      const again = await post(roomId, body);
      const burst = await Promise.all([post(roomId, body), post(roomId, body, OLD_KEY)]);
      for (const r of [again, ...burst]) {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(r.body, first.body, "the same message id, seq and body");
      }
      // the same key for another message is refused; from another sender it is another message
      const reused = await post(roomId, { ...body, content: { text: "changed" } });
      assert.equal(reused.status, 409);
      assert.equal(reused.body.error.code, "IDEMPOTENCY_KEY_REUSED");
      const other = await post(roomId, { ...body, sender_id: "bot:cd" });
      assert.equal(other.status, 201);
      assert.notEqual(other.body.message_id, first.body.message_id);
      assert.equal(other.body.seq, first.body.seq + 1, "nothing was sequenced in between");

      await sb.waitFor((f) => f.type === "message" && f.seq === other.body.seq, "the later one");
      assert.equal(
        sb.frames.filter((f) => f.type === "message" && f.message_id === first.body.message_id)
          .length,
        1,
        "members see the message once",
      );
      const history = await a.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?limit=100`,
        undefined,
        alice.accessToken,
      );
      assert.equal(
        history.messages.filter((m: Frame) => m.client_msg_id === "deploy-42").length,
        2,
        "one message per sender",
      );
    } finally {
      await sb.close();
    }
  });

  it("posts a reply to a message the room has; another seq is 400 REPLY_TO_NOT_FOUND, another reply_to for the key 409", async () => {
    const first = await post(roomId, {
      idempotency_key: "reply-target",
      sender_id: "bot:ci",
      ...text("build started"),
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const body = {
      idempotency_key: "reply-1",
      sender_id: "bot:ci",
      reply_to: first.body.seq,
      ...text("build passed"),
    };
    const reply = await post(roomId, body);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.equal(reply.body.reply_to, first.body.seq);
    const reused = await post(roomId, { ...body, reply_to: reply.body.seq });
    assert.equal(reused.status, 409, JSON.stringify(reused.body));
    const beyond = await post(roomId, {
      ...body,
      idempotency_key: "reply-2",
      reply_to: reply.body.seq + 100,
    });
    assert.equal(beyond.status, 400, JSON.stringify(beyond.body));
    assert.equal(beyond.body.error.code, "REPLY_TO_NOT_FOUND");
    const zero = await post(roomId, { ...body, idempotency_key: "reply-3", reply_to: 0 });
    assert.equal(zero.status, 400);
    assert.equal(zero.body.error.code, "BAD_REQUEST");
  });

  it("refuses a missing or wrong key, and a user's token, with 401 before reading the body", async () => {
    const body = { idempotency_key: "x", sender_id: "bot:x", ...text("x") };
    for (const key of [undefined, "", "wrong-key-0123456789abcdef0123456789", alice.accessToken]) {
      for (const b2 of [body, { not: "valid" }]) {
        const r = await a.call("POST", `/v1/server/rooms/${roomId}/messages`, b2, key);
        assert.equal(r.status, 401, `key ${key}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, "UNAUTHENTICATED");
      }
    }
    const raw = await fetch(`${a.base}/v1/server/rooms`, {
      method: "POST",
      headers: { authorization: KEY, "content-type": "application/json" },
      body: JSON.stringify({ kind: "channel", name: "no-scheme" }),
    });
    assert.equal(raw.status, 401, "the key without the Bearer scheme");
    // and a server key is no user token
    assert.equal((await a.call("GET", "/v1/rooms", undefined, KEY)).status, 401);
  });

  it("creates rooms, adds and removes members, and members' sockets follow", async () => {
    const made = await server("POST", "/rooms", {
      kind: "group",
      name: "ops",
      owner_id: alice.userId,
      members: [bob.userId],
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.created_by, "system");
    const ops = made.body.id as string;
    const members = await a.ok("GET", `/v1/rooms/${ops}/members`, undefined, alice.accessToken);
    assert.deepEqual(
      members.members.map((m: Frame) => [m.user_id, m.role]).sort(),
      [
        [alice.userId, "owner"],
        [bob.userId, "member"],
      ].sort(),
    );
    const empty = await server("POST", "/rooms", { kind: "channel", name: "news" });
    assert.equal(empty.status, 201);

    const sc = await ChatSocket.open(cluster.urls[1] as string, carol.accessToken);
    try {
      const member = `/rooms/${ops}/members/${carol.userId}`;
      const added = await server("PUT", member);
      assert.deepEqual(added.body, { room_id: ops, user_id: carol.userId, changed: true });
      await sc.waitFor(
        (f) => f.type === "user_joined" && f.room_id === ops && f.user_id === carol.userId,
        "carol's socket told she joined",
      );
      assert.equal((await server("PUT", member)).body.changed, false, "adding again: no change");
      const hello = await post(ops, { idempotency_key: "hi", sender_id: "bot:ops", ...text("hi") });
      await sc.waitFor((f) => f.type === "message" && f.message_id === hello.body.message_id);

      const removed = await server("DELETE", member);
      assert.deepEqual(removed.body, { room_id: ops, user_id: carol.userId, changed: true });
      await sc.waitFor((f) => f.type === "user_left" && f.room_id === ops, "carol's socket told");
      assert.equal((await server("DELETE", member)).body.changed, false, "removing again");
      const gone = await b.call("GET", `/v1/rooms/${ops}/messages`, undefined, carol.accessToken);
      assert.equal(gone.status, 403, "a removed member reads no more");
    } finally {
      await sc.close();
    }

    const direct = await a.ok(
      "POST",
      "/v1/rooms",
      { kind: "direct", user_id: bob.userId },
      alice.accessToken,
    );
    const refusals: [string, string, number, string][] = [
      ["PUT", `/rooms/${direct.id}/members/${carol.userId}`, 403, "FORBIDDEN"],
      ["DELETE", `/rooms/${direct.id}/members/${bob.userId}`, 403, "FORBIDDEN"],
      ["PUT", `/rooms/${NO_ROOM}/members/${carol.userId}`, 404, "ROOM_NOT_FOUND"],
      ["PUT", `/rooms/${ops}/members/${NO_ROOM}`, 404, "USER_NOT_FOUND"],
      ["DELETE", `/rooms/${NO_ROOM}/members/${carol.userId}`, 404, "ROOM_NOT_FOUND"],
    ];
    for (const [method, path, status, code] of refusals) {
      const r = await server(method, path);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code);
    }
    const noUser = await server("POST", "/rooms", { kind: "group", name: "x", members: [NO_ROOM] });
    assert.equal(noUser.body.error.code, "USER_NOT_FOUND");
    const noRoom = await post(NO_ROOM, { idempotency_key: "k", sender_id: "system", ...text("x") });
    assert.equal(noRoom.status, 404);
    assert.equal(noRoom.body.error.code, "ROOM_NOT_FOUND");
  });

  it(`disconnects every socket of a user on every gateway with ${CloseCodes.DISCONNECTED.code}, and nobody else's`, async () => {
    const dave = await a.register("dave");
    const [d0, d1, other] = await Promise.all([
      ChatSocket.open(cluster.urls[0] as string, dave.accessToken),
      ChatSocket.open(cluster.urls[1] as string, dave.accessToken),
      ChatSocket.open(cluster.urls[1] as string, bob.accessToken),
    ]);
    try {
      const r = await server("POST", `/users/${dave.userId}/disconnect`, { reason: "banned" });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body, { user_id: dave.userId, gateways: 2 });
      for (const s of [d0, d1]) {
        await waitFor("dave's socket closed", () => s.closeCode, { timeoutMs: 10_000 });
        assert.equal(s.closeCode, CloseCodes.DISCONNECTED.code);
      }
      const pong = await other.request({ type: "ping" });
      assert.equal(pong.type, "pong", "another user's socket stays open");
      // the user's tokens stay valid: a new socket opens
      const back = await ChatSocket.open(cluster.urls[0] as string, dave.accessToken);
      await back.close();
      // without a body too; an unknown user is 404
      const again = await server("POST", `/users/${dave.userId}/disconnect`);
      assert.equal(again.status, 202);
      const none = await server("POST", `/users/${NO_ROOM}/disconnect`);
      assert.equal(none.status, 404);
      assert.equal(none.body.error.code, "USER_NOT_FOUND");
    } finally {
      await Promise.all([d0.close(), d1.close(), other.close()]);
    }
  });

  it("refuses bad bodies with 400 BAD_REQUEST naming the field", async () => {
    const ok = { idempotency_key: "bad-1", sender_id: "bot:x", ...text("x") };
    const bad: [string, Record<string, unknown>, string][] = [
      ["a missing key", { ...ok, idempotency_key: undefined }, "idempotency_key"],
      ["an empty key", { ...ok, idempotency_key: "" }, "idempotency_key"],
      ["a long key", { ...ok, idempotency_key: "k".repeat(65) }, "idempotency_key"],
      ["a user's id as sender", { ...ok, sender_id: alice.userId }, "sender_id"],
      ["a bare name as sender", { ...ok, sender_id: "weather" }, "sender_id"],
      ["an upper-case bot", { ...ok, sender_id: "bot:Weather" }, "sender_id"],
      ["a long bot name", { ...ok, sender_id: `bot:${"w".repeat(33)}` }, "sender_id"],
      ["an unknown type", { ...ok, msg_type: "video" }, "msg_type"],
      ["an unknown content field", { ...ok, content: { text: "x", html: "<b>" } }, "content"],
      ["a number as text", { ...ok, content: { text: 1 } }, "text"],
      ["an empty text", { ...ok, content: { text: " " } }, "content.text"],
      ["an image without url", { ...ok, msg_type: "image", content: {} }, "content.url"],
      ["an unknown field", { ...ok, extra: 1 }, "additional properties"],
    ];
    for (const [what, body, field] of bad) {
      const r = await post(roomId, JSON.parse(JSON.stringify(body)));
      assert.equal(r.status, 400, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "BAD_REQUEST");
      assert.match(r.body.error.message, new RegExp(field), `${what}: names ${field}`);
    }
    const rooms: [Record<string, unknown>, string][] = [
      [{ kind: "direct", name: "x" }, "kind"],
      [{ kind: "group" }, "name"],
      [{ kind: "group", name: "x", owner_id: "alice" }, "owner_id"],
      [{ kind: "group", name: "x", members: [bob.userId, bob.userId] }, "members"],
    ];
    for (const [body, field] of rooms) {
      const r = await server("POST", "/rooms", body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, new RegExp(field));
    }
    for (const reason of ["", "é", "x".repeat(121), 7]) {
      const r = await server("POST", `/users/${bob.userId}/disconnect`, { reason });
      assert.equal(r.status, 400, `reason ${JSON.stringify(reason)}: ${JSON.stringify(r.body)}`);
    }
    const path = await server("PUT", `/rooms/not-a-room/members/${bob.userId}`);
    assert.equal(path.status, 400);
    const huge = await post(roomId, { ...ok, content: { text: "x".repeat(70 * 1024) } });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, "FRAME_TOO_LARGE");
  });
});

describe("the server API when the forwarder is stalled", () => {
  it("answers 503 UNAVAILABLE when the message is not stored in time, and a retry with the key then creates it once", async () => {
    const cluster = await startCluster({
      forwarders: 0,
      serverKeys: [KEY],
      limits: { ackTimeoutMs: 1000 },
    });
    const forwarder = new Forwarder({
      ...cluster.backends,
      topic: "switchboard.messages",
      groupId: "switchboard.messages.forwarder",
      log: createLogger("test", "silent"),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    try {
      const rest = new Rest(cluster.urls[0] as string);
      const room = await rest.ok("POST", "/v1/server/rooms", { kind: "channel", name: "c" }, KEY);
      const body = { idempotency_key: "late", sender_id: "system", ...text("late") };
      const path = `/v1/server/rooms/${room.id}/messages`;
      const stalled = await rest.call("POST", path, body, KEY);
      assert.equal(stalled.status, 503, JSON.stringify(stalled.body));
      assert.equal(stalled.body.error.code, "UNAVAILABLE");
      assert.match(stalled.body.error.message, /idempotency_key/);
      await forwarder.start();
      const retried = await rest.call("POST", path, body, KEY);
      assert.ok([200, 201].includes(retried.status), JSON.stringify(retried.body));
      assert.equal(retried.body.seq, 1, "the message produced twice is stored once");
      const next = await rest.call("POST", path, { ...body, idempotency_key: "next" }, KEY);
      assert.equal(next.body.seq, 2, "nothing else was sequenced");
    } finally {
      await forwarder.stop();
      await cluster.stop();
    }
  });
});

describe("the server API's switch and rate limit", () => {
  it("is off without a key: 403 FORBIDDEN saying how to turn it on", async () => {
    const cluster = await startCluster();
    try {
      const rest = new Rest(cluster.urls[0] as string);
      const r = await rest.call("POST", "/v1/server/rooms", { kind: "channel", name: "x" }, KEY);
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, "FORBIDDEN");
      assert.match(r.body.error.message, /SERVER_API_KEYS/);
    } finally {
      await cluster.stop();
    }
  });

  it("limits each key on its own bucket: 429 RATE_LIMITED with Retry-After", async () => {
    const cluster = await startCluster({
      serverKeys: [OLD_KEY, KEY],
      limits: { serverRate: { capacity: 3, refillPerSecond: 0.01 } },
    });
    try {
      const rest = new Rest(cluster.urls[0] as string);
      const create = (key: string) =>
        rest.call("POST", "/v1/server/rooms", { kind: "channel", name: "x" }, key);
      for (let i = 0; i < 3; i++) assert.equal((await create(KEY)).status, 201);
      const limited = await fetch(`${rest.base}/v1/server/rooms`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "channel", name: "x" }),
      });
      assert.equal(limited.status, 429);
      assert.equal(((await limited.json()) as Frame & { error: Frame }).error.code, "RATE_LIMITED");
      assert.ok(Number(limited.headers.get("retry-after")) > 0);
      assert.equal((await create(OLD_KEY)).status, 201, "the other key has its own bucket");
    } finally {
      await cluster.stop();
    }
  });
});
