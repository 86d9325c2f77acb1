// Rooms, direct messages, presence, typing, seen receipts and unread counts, looking people up
// by id, on the memory backends with two gateways.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session } from "../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("chat features on the memory backends", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let ann: Session;
  let ben: Session;
  let cat: Session;
  const url = (i: number) => cluster.urls[i] as string;

  before(async () => {
    cluster = await startCluster({
      gateways: 2,
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 } },
    });
    rest = new Rest(url(0));
    [ann, ben, cat] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("cat"),
    ]);
  });

  after(async () => {
    await cluster.stop();
  });

  it("creates the direct room on a first message to a user, once, and both see it", async () => {
    const sa = await ChatSocket.open(url(0), ann.accessToken);
    const sb = await ChatSocket.open(url(1), ben.accessToken);
    try {
      const ack = await sa.request({
        type: "message",
        to_user_id: ben.userId,
        client_msg_id: "dm1",
        msg_type: "text",
        content: { text: "hi ben" },
      });
      assert.equal(ack.type, "ack");
      assert.equal(ack.seq, 1);
      const got = await sb.waitFor((f) => f.type === "message" && f.message_id === ack.message_id);
      assert.equal(got.room_id, ack.room_id);
      const again = await sa.request({
        type: "message",
        to_user_id: ben.userId,
        client_msg_id: "dm2",
        msg_type: "text",
        content: { text: "again" },
      });
      assert.equal(again.room_id, ack.room_id, "the second message uses the same direct room");
      const viaRest = await rest.ok(
        "POST",
        "/v1/rooms",
        { kind: "direct", user_id: ann.userId },
        ben.accessToken,
      );
      assert.equal(viaRest.id, ack.room_id);
      const self = await sa.request({
        type: "message",
        to_user_id: ann.userId,
        client_msg_id: "dm3",
        msg_type: "text",
        content: { text: "me" },
      });
      assert.equal(self.code, "BAD_REQUEST");
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("lets anyone join a channel and nobody join a group uninvited", async () => {
    const channel = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "channel", name: "lobby" },
      ann.accessToken,
    );
    const group = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "secret" },
      ann.accessToken,
    );
    const listed = await rest.ok("GET", "/v1/channels", undefined, cat.accessToken);
    assert.ok(listed.rooms.some((r: { id: string }) => r.id === channel.id));
    assert.ok(
      !listed.rooms.some((r: { id: string }) => r.id === group.id),
      "groups are not listed",
    );
    const sc = await ChatSocket.open(url(1), cat.accessToken);
    try {
      const joined = await sc.request({ type: "join", room_id: channel.id });
      assert.equal(joined.type, "user_joined");
      assert.equal(joined.user_id, cat.userId);
      const refused = await sc.request({ type: "join", room_id: group.id });
      assert.equal(refused.code, "FORBIDDEN");
      const members = await rest.ok(
        "GET",
        `/v1/rooms/${channel.id}/members`,
        undefined,
        ann.accessToken,
      );
      assert.deepEqual(
        members.members.map((m: { user_id: string }) => m.user_id).sort(),
        [ann.userId, cat.userId].sort(),
      );
      const left = await sc.request({ type: "leave", room_id: channel.id });
      assert.equal(left.type, "user_left");
      const denied = await rest.call(
        "GET",
        `/v1/rooms/${group.id}/messages`,
        undefined,
        cat.accessToken,
      );
      assert.equal(denied.body.error.code, "NOT_A_MEMBER");
    } finally {
      await sc.close();
    }
  });

  it("tells members who is online and who is typing, without storing typing", async () => {
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "presence", members: [ben.userId] },
      ann.accessToken,
    );
    const sa = await ChatSocket.open(url(0), ann.accessToken);
    try {
      const before = await sa.request({ type: "presence", room_id: room.id });
      assert.deepEqual(before.online, [ann.userId]);
      const sb = await ChatSocket.open(url(1), ben.accessToken);
      await sa.waitFor(
        (f) =>
          f.type === "presence" &&
          f.room_id === room.id &&
          (f.online as string[]).includes(ben.userId),
        "ben online",
      );
      const both = await sa.request({ type: "presence", room_id: room.id });
      assert.deepEqual([...(both.online as string[])].sort(), [ann.userId, ben.userId].sort());
      sb.send({ type: "typing", room_id: room.id, state: "start" });
      const typing = await sa.waitFor((f) => f.type === "typing" && f.room_id === room.id);
      assert.equal(typing.user_id, ben.userId);
      assert.equal(typing.state, "start");
      const page = await rest.ok(
        "GET",
        `/v1/rooms/${room.id}/messages`,
        undefined,
        ann.accessToken,
      );
      assert.equal(page.messages.length, 0, "typing is not stored");
      await sb.close();
      await sa.waitFor(
        (f) =>
          f.type === "presence" &&
          f.room_id === room.id &&
          (f.offline as string[] | undefined)?.includes(ben.userId) === true,
        "ben offline",
      );
    } finally {
      await sa.close();
    }
  });

  it("stores seen receipts, broadcasts them, and counts unread messages in the room list", async () => {
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "unread", members: [ben.userId] },
      ann.accessToken,
    );
    const sa = await ChatSocket.open(url(0), ann.accessToken);
    const sb = await ChatSocket.open(url(1), ben.accessToken);
    try {
      let last = 0;
      for (let i = 0; i < 5; i++) {
        const ack = await sa.request({
          type: "message",
          room_id: room.id,
          client_msg_id: `u${i}`,
          msg_type: "text",
          content: { text: `u${i}` },
        });
        last = ack.seq as number;
      }
      const unreadFor = async (s: Session) =>
        (await rest.ok("GET", "/v1/rooms", undefined, s.accessToken)).rooms.find(
          (r: { room: { id: string } }) => r.room.id === room.id,
        );
      assert.equal((await unreadFor(ben)).unread, 5);
      assert.equal((await unreadFor(ben)).last_seq, last);
      await sb.waitForCount((f) => f.type === "message" && f.room_id === room.id, 5);
      sb.send({ type: "seen", room_id: room.id, seq: 3 });
      const seen = await sa.waitFor((f) => f.type === "seen" && f.room_id === room.id);
      assert.equal(seen.user_id, ben.userId);
      assert.equal(seen.seq, 3);
      assert.equal((await unreadFor(ben)).unread, 2);
      // a read position never moves back
      await rest.ok("PUT", `/v1/rooms/${room.id}/read`, { seq: 1 }, ben.accessToken);
      await sa.waitForCount((f) => f.type === "seen" && f.room_id === room.id, 2);
      assert.equal((await unreadFor(ben)).read_seq, 3);
      // the room list is ordered by last activity
      const list = (await rest.ok("GET", "/v1/rooms", undefined, ben.accessToken)).rooms;
      assert.equal(list[0].room.id, room.id);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("pages history with cursors", async () => {
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "history" },
      ann.accessToken,
    );
    const sa = await ChatSocket.open(url(0), ann.accessToken);
    try {
      await sa.sendMessages(room.id, 120, { prefix: "h" });
      await sa.waitForCount((f) => f.type === "ack" && f.room_id === room.id, 120);
      const newest = await rest.ok(
        "GET",
        `/v1/rooms/${room.id}/messages`,
        undefined,
        ann.accessToken,
      );
      assert.deepEqual(
        newest.messages.map((m: { seq: number }) => m.seq),
        Array.from({ length: 50 }, (_, i) => 71 + i),
      );
      assert.equal(newest.next_before, 71);
      const older = await rest.ok(
        "GET",
        `/v1/rooms/${room.id}/messages?before=71&limit=100`,
        undefined,
        ann.accessToken,
      );
      assert.deepEqual(
        older.messages.map((m: { seq: number }) => m.seq),
        Array.from({ length: 70 }, (_, i) => 1 + i),
      );
      assert.equal(older.next_before, undefined);
      const forward = await rest.ok(
        "GET",
        `/v1/rooms/${room.id}/messages?after=100&limit=10`,
        undefined,
        ann.accessToken,
      );
      assert.deepEqual(
        forward.messages.map((m: { seq: number }) => m.seq),
        Array.from({ length: 10 }, (_, i) => 101 + i),
      );
      assert.equal(forward.next_after, 110);
    } finally {
      await sa.close();
    }
  });

  it("rotates refresh tokens and revokes the family on reuse", async () => {
    const s = await rest.register("dora");
    const r1 = await rest.ok("POST", "/v1/auth/refresh", { refresh_token: s.refreshToken });
    const me = await rest.ok("GET", "/v1/me", undefined, r1.access_token);
    assert.equal(me.id, s.userId);
    const reuse = await rest.call("POST", "/v1/auth/refresh", { refresh_token: s.refreshToken });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.error.code, "REFRESH_TOKEN_REUSED");
    const afterTheft = await rest.call("POST", "/v1/auth/refresh", {
      refresh_token: r1.refresh_token,
    });
    assert.equal(afterTheft.status, 401, "the whole family is revoked");
    const login = await rest.ok("POST", "/v1/auth/login", {
      username: "dora",
      password: "password-123",
    });
    await rest.ok(
      "POST",
      "/v1/auth/logout",
      { refresh_token: login.tokens.refresh_token },
      login.tokens.access_token,
    );
    const loggedOut = await rest.call("POST", "/v1/auth/refresh", {
      refresh_token: login.tokens.refresh_token,
    });
    assert.equal(loggedOut.status, 401);
    const wrong = await rest.call("POST", "/v1/auth/login", {
      username: "dora",
      password: "nope-nope-nope",
    });
    assert.equal(wrong.body.error.code, "INVALID_CREDENTIALS");
  });

  it("looks people up by id: each one's public profile, nothing for an unknown id", async () => {
    const dee = await rest.register("dee", "password-123", { email: "dee@example.com" });
    const unknown = "00000000-0000-4000-8000-000000000000";
    const ids = [ben.userId, dee.userId, unknown, ben.userId.toUpperCase()];
    const found = await rest.ok(
      "GET",
      `/v1/users?ids=${ids.join(",")}`,
      undefined,
      ann.accessToken,
    );
    assert.deepEqual(
      [...found.users].sort((a, b) => a.username.localeCompare(b.username)),
      [
        // no email, no creation time: what anyone signed in may see
        { id: ben.userId, username: "ben", display_name: "ben" },
        { id: dee.userId, username: "dee", display_name: "dee" },
      ],
    );
    const many = Array.from({ length: 101 }, () => ben.userId).join(",");
    for (const query of ["", "?ids=", `?ids=${ben.userId},not-a-user-id`, `?ids=${many}`]) {
      const r = await rest.call("GET", `/v1/users${query}`, undefined, ann.accessToken);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.error.code, "BAD_REQUEST", query);
    }
    const anonymous = await rest.call("GET", `/v1/users?ids=${ben.userId}`);
    assert.equal(anonymous.status, 401);
  });

  it("rate-limits a user across gateways with RATE_LIMITED and a retry-after", async () => {
    const limited = await startCluster({
      gateways: 2,
      limits: { userRate: { capacity: 3, refillPerSecond: 0.01 } },
    });
    try {
      const r = new Rest(limited.urls[0] as string);
      const u = await r.register("eager");
      const s0 = await ChatSocket.open(limited.urls[0] as string, u.accessToken);
      const s1 = await ChatSocket.open(limited.urls[1] as string, u.accessToken);
      try {
        const answers = [];
        for (const s of [s0, s1, s0, s1])
          answers.push(
            await s.request({ type: "presence", room_id: "00000000-0000-4000-8000-000000000000" }),
          );
        const codes = answers.map((a) => a.code);
        assert.deepEqual(codes.slice(0, 3), ["ROOM_NOT_FOUND", "ROOM_NOT_FOUND", "ROOM_NOT_FOUND"]);
        assert.equal(codes[3], "RATE_LIMITED");
        assert.ok((answers[3]?.retry_after_ms as number) > 0);
        const viaRest = await r.call("GET", "/v1/me", undefined, u.accessToken);
        assert.equal(viaRest.status, 429, "REST shares the bucket");
      } finally {
        await Promise.all([s0.close(), s1.close()]);
      }
    } finally {
      await limited.stop();
    }
  });
});
