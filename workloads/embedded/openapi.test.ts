// The published OpenAPI document and the live server agree: the document is fetched from a
// running gateway, every operation has a summary, and for every operation real requests (a
// success and each documented client error: 400, 401, 403, 404, 409, 413) are answered with a
// documented status whose body matches the documented schema and whose error code is one the
// document lists for that status.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ChatSocket,
  OpenApiChecker,
  Rest,
  type Session,
  waitFor,
} from "../../e2e/testkit/index.ts";
import { DEFAULT_UPLOAD_LIMITS } from "../gateway/config.ts";
import { MemoryObjectStore } from "../shared/backends/object-store.memory.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is JSON the test walks
type Json = any;

const NO_ROOM = "00000000-0000-4000-8000-000000000000";
const SERVER_KEY = "openapi-0123456789abcdef0123456789abcdef";
const HUGE = { padding: "x".repeat(70 * 1024) };
/** client errors the test must provoke for each operation that documents them */
const PROVOKED = ["400", "401", "403", "404", "409", "413"];
/** documented answers no request can provoke here, with the reason */
const UNREACHABLE: Record<string, string> = {
  "GET /v1/me 404": "no API deletes a user, so a valid token's user always exists",
  "POST /v1/auth/oidc/exchange 401": "needs sign-on on: e2e/sign-on/sign-on.int.ts provokes it",
};
/** operations that succeed only with a real provider: e2e/sign-on/sign-on.int.ts checks them */
const SUCCEED_ELSEWHERE: Record<string, string> = {
  "GET /v1/auth/oidc/start": "needs an OpenID Connect provider",
  "GET /v1/auth/oidc/callback": "needs an OpenID Connect provider",
  "POST /v1/auth/oidc/exchange": "needs a code from a provider's sign-in",
  "POST /v1/auth/oidc/link": "needs an OpenID Connect provider",
  "POST /v1/auth/oidc/logout": "needs an OpenID Connect provider",
  "POST /v1/auth/oidc/backchannel-logout": "needs a logout token signed by a provider",
};

describe("the OpenAPI document against the live server", () => {
  let cluster: InProcessCluster;
  /** a gateway without server keys: its server API answers 403 */
  let off: InProcessCluster;
  let objects: MemoryObjectStore;
  let rest: Rest;
  let doc: Json;
  let checker: OpenApiChecker;
  /** "METHOD /template" → statuses seen */
  const seen = new Map<string, Set<string>>();

  before(async () => {
    objects = await MemoryObjectStore.start();
    cluster = await startCluster({
      matcher: { pairIntervalMs: 10 },
      limits: { userRate: { capacity: 10_000, refillPerSecond: 1000 } },
      serverKeys: [SERVER_KEY],
      uploads: { objects, cluster: "openapi", limits: DEFAULT_UPLOAD_LIMITS },
    });
    off = await startCluster();
    rest = new Rest(cluster.urls[0] as string);
    checker = await OpenApiChecker.fetch(cluster.urls[0] as string);
    doc = checker.doc;
  });

  after(async () => {
    await cluster.stop();
    await off.stop();
    await objects.close();
  });

  /** Sends the request and checks the answer against the operation's documented responses. */
  async function call(
    method: string,
    template: string,
    params: Record<string, string>,
    opts: { query?: string; body?: unknown; token?: string; expect: number; via?: Rest },
  ): Promise<Json> {
    const path =
      template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] as string) +
      (opts.query === undefined ? "" : `?${opts.query}`);
    const what = `${method} ${path}`;
    const r = await (opts.via ?? rest).call(method, path, opts.body, opts.token);
    assert.equal(r.status, opts.expect, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
    const problem = checker.problem(method, template, r.status, r.body);
    assert.equal(problem, undefined, `${what}: ${problem}`);
    const key = `${method} ${template}`;
    seen.set(key, (seen.get(key) ?? new Set()).add(String(r.status)));
    return r.body;
  }

  it("gives every operation a summary and documents each answer it gives", async () => {
    const operations = checker.operations();
    for (const key of operations) {
      const [method, path] = key.split(" ") as [string, string];
      const summary = checker.operation(method, path)?.summary;
      assert.ok(typeof summary === "string" && summary.length > 0, `${key} has a summary`);
    }
    const history = doc.paths["/v1/rooms/{room_id}/messages"].get.parameters;
    assert.equal(history.find((p: Json) => p.name === "limit").required, false);

    const [ann, ben, cat] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("cat"),
    ]);
    const t = (s: Session) => s.accessToken;
    const none = {};

    // ---- auth ----
    const dora = await call("POST", "/v1/auth/register", none, {
      body: { username: "dora", password: "password-123" },
      expect: 201,
    });
    await call("POST", "/v1/auth/register", none, { body: { username: 1 }, expect: 400 });
    await call("POST", "/v1/auth/register", none, {
      body: { username: "dora", password: "password-123" },
      expect: 409,
    });
    await call("POST", "/v1/auth/register", none, { body: HUGE, expect: 413 });
    const login = await call("POST", "/v1/auth/login", none, {
      body: { username: "dora", password: "password-123" },
      expect: 200,
    });
    await call("POST", "/v1/auth/login", none, { body: {}, expect: 400 });
    await call("POST", "/v1/auth/login", none, {
      body: { username: "dora", password: "wrong-password" },
      expect: 401,
    });
    await call("POST", "/v1/auth/login", none, { body: HUGE, expect: 413 });
    await call("POST", "/v1/auth/refresh", none, {
      body: { refresh_token: dora.tokens.refresh_token },
      expect: 200,
    });
    await call("POST", "/v1/auth/refresh", none, { body: {}, expect: 400 });
    await call("POST", "/v1/auth/refresh", none, {
      body: { refresh_token: "not-a-token" },
      expect: 401,
    });
    await call("POST", "/v1/auth/refresh", none, { body: HUGE, expect: 413 });
    await call("POST", "/v1/auth/logout", none, { body: { extra: 1 }, expect: 400 });
    await call("POST", "/v1/auth/logout", none, { expect: 401 });
    await call("POST", "/v1/auth/logout", none, {
      body: HUGE,
      token: login.tokens.access_token,
      expect: 413,
    });
    await call("POST", "/v1/auth/logout", none, { token: login.tokens.access_token, expect: 204 });
    await call("GET", "/v1/me", none, { token: t(ann), expect: 200 });
    await call("GET", "/v1/me", none, { token: login.tokens.access_token, expect: 401 });
    const users = (ids: string) => `ids=${ids}`;
    await call("GET", "/v1/users", none, { query: users(ben.userId), token: t(ann), expect: 200 });
    await call("GET", "/v1/users", none, { query: users("x"), token: t(ann), expect: 400 });
    await call("GET", "/v1/users", none, { query: users(ben.userId), expect: 401 });

    // ---- single sign-on, off here ----
    await call("GET", "/v1/auth/oidc", none, { expect: 200 });
    await call("GET", "/v1/auth/oidc/start", none, { expect: 404 });
    await call("GET", "/v1/auth/oidc/callback", none, { query: "code=x&state=y", expect: 404 });
    const code = { code: "A".repeat(43) };
    await call("POST", "/v1/auth/oidc/exchange", none, { body: code, expect: 404 });
    await call("POST", "/v1/auth/oidc/exchange", none, { body: { code: "x" }, expect: 400 });
    await call("POST", "/v1/auth/oidc/link", none, { expect: 401 });
    await call("POST", "/v1/auth/oidc/link", none, { token: t(ann), expect: 404 });
    const bcl = "/v1/auth/oidc/backchannel-logout";
    await call("POST", bcl, none, { body: { logout_token: "x" }, expect: 404 });
    await call("POST", bcl, none, { body: {}, expect: 400 });
    await call("POST", bcl, none, { body: HUGE, expect: 413 });
    await call("POST", "/v1/auth/oidc/logout", none, { expect: 401 });
    // sign-on off: refused before the session is touched (ann stays signed in)
    await call("POST", "/v1/auth/oidc/logout", none, { token: t(ann), expect: 404 });
    await call("POST", "/v1/auth/oidc/logout", none, { body: HUGE, token: t(ann), expect: 413 });
    await call("POST", "/v1/auth/oidc/logout", none, {
      body: { refresh_token: 5 },
      token: t(ann),
      expect: 400,
    });

    // ---- rooms ----
    const group = await call("POST", "/v1/rooms", none, {
      body: { kind: "group", name: "g", members: [ben.userId] },
      token: t(ann),
      expect: 201,
    });
    const other = await call("POST", "/v1/rooms", none, {
      body: { kind: "group", name: "g2" },
      token: t(ann),
      expect: 201,
    });
    const channel = await call("POST", "/v1/rooms", none, {
      body: { kind: "channel", name: "c" },
      token: t(ann),
      expect: 201,
    });
    const direct = await call("POST", "/v1/rooms", none, {
      body: { kind: "direct", user_id: ben.userId },
      token: t(ann),
      expect: 201,
    });
    await call("POST", "/v1/rooms", none, { body: { kind: "x" }, token: t(ann), expect: 400 });
    await call("POST", "/v1/rooms", none, { body: { kind: "group", name: "n" }, expect: 401 });
    await call("POST", "/v1/rooms", none, {
      body: { kind: "direct", user_id: NO_ROOM },
      token: t(ann),
      expect: 404,
    });
    await call("POST", "/v1/rooms", none, { body: HUGE, token: t(ann), expect: 413 });

    const sa = await ChatSocket.open(cluster.urls[0] as string, t(ann));
    try {
      const ack = await sa.request({
        type: "message",
        room_id: group.id,
        client_msg_id: "m1",
        msg_type: "text",
        content: { text: "hello" },
      });
      assert.equal(ack.type, "ack");
    } finally {
      await sa.close();
    }

    await call("GET", "/v1/rooms", none, { token: t(ann), expect: 200 });
    await call("GET", "/v1/rooms", none, { expect: 401 });
    await call("GET", "/v1/channels", none, { token: t(cat), expect: 200 });
    await call("GET", "/v1/channels", none, { query: "limit=1", token: t(cat), expect: 200 });
    await call("GET", "/v1/channels", none, { query: "limit=0", token: t(cat), expect: 400 });
    await call("GET", "/v1/channels", none, { expect: 401 });

    const room = "/v1/rooms/{room_id}";
    const g = { room_id: group.id };
    const bad = { room_id: "not-a-uuid" };
    const missing = { room_id: NO_ROOM };
    await call("GET", room, g, { token: t(ben), expect: 200 });
    await call("GET", room, bad, { token: t(ben), expect: 400 });
    await call("GET", room, g, { expect: 401 });
    await call("GET", room, missing, { token: t(ben), expect: 404 });
    await call("GET", room, g, { token: t(cat), expect: 403 });

    const join = `${room}/join`;
    await call("POST", join, { room_id: channel.id }, { token: t(cat), expect: 200 });
    await call("POST", join, bad, { token: t(cat), expect: 400 });
    await call("POST", join, g, { expect: 401 });
    await call("POST", join, missing, { token: t(cat), expect: 404 });
    await call("POST", join, g, { token: t(cat), expect: 403 });
    await call("POST", join, g, { body: HUGE, token: t(cat), expect: 413 });

    const leave = `${room}/leave`;
    await call("POST", leave, { room_id: channel.id }, { token: t(cat), expect: 204 });
    await call("POST", leave, bad, { token: t(cat), expect: 400 });
    await call("POST", leave, g, { expect: 401 });
    await call("POST", leave, missing, { token: t(cat), expect: 404 });
    await call("POST", leave, { room_id: direct.id }, { token: t(ann), expect: 403 });
    await call("POST", leave, g, { body: HUGE, token: t(cat), expect: 413 });

    const members = `${room}/members`;
    await call("GET", members, g, { token: t(ben), expect: 200 });
    await call("GET", members, bad, { token: t(ben), expect: 400 });
    await call("GET", members, g, { expect: 401 });
    await call("GET", members, missing, { token: t(ben), expect: 404 });
    await call("GET", members, g, { token: t(cat), expect: 403 });
    const o = { room_id: other.id };
    await call("POST", members, o, { body: { user_id: cat.userId }, token: t(ann), expect: 204 });
    await call("POST", members, o, { body: { user_id: 1 }, token: t(ann), expect: 400 });
    await call("POST", members, o, { body: { user_id: cat.userId }, expect: 401 });
    await call("POST", members, missing, {
      body: { user_id: cat.userId },
      token: t(ann),
      expect: 404,
    });
    await call("POST", members, o, { body: { user_id: ann.userId }, token: t(ben), expect: 403 });
    await call("POST", members, o, { body: { user_id: cat.userId }, token: t(ann), expect: 409 });
    await call("POST", members, o, { body: HUGE, token: t(ann), expect: 413 });

    const messages = `${room}/messages`;
    const page = await call("GET", messages, g, { token: t(ben), expect: 200 });
    assert.equal(page.messages.length, 1);
    await call("GET", messages, g, { query: "after=0&limit=1", token: t(ben), expect: 200 });
    await call("GET", messages, g, { query: "limit=abc", token: t(ben), expect: 400 });
    await call("GET", messages, g, { expect: 401 });
    await call("GET", messages, missing, { token: t(ben), expect: 404 });
    await call("GET", messages, g, { token: t(cat), expect: 403 });

    const read = `${room}/read`;
    await call("PUT", read, g, { body: { seq: 1 }, token: t(ben), expect: 202 });
    await call("PUT", read, g, { body: { seq: true }, token: t(ben), expect: 400 });
    await call("PUT", read, g, { body: { seq: 1 }, expect: 401 });
    await call("PUT", read, missing, { body: { seq: 1 }, token: t(ben), expect: 404 });
    await call("PUT", read, g, { body: { seq: 1 }, token: t(cat), expect: 403 });
    await call("PUT", read, g, { body: HUGE, token: t(ben), expect: 413 });

    // ---- uploads ----
    const uploads = `${room}/uploads`;
    const file = { name: "a.png", size: 10, content_type: "image/png" };
    const granted = await call("POST", uploads, g, { body: file, token: t(ben), expect: 201 });
    await call("POST", uploads, g, { body: { ...file, size: 0 }, token: t(ben), expect: 400 });
    await call("POST", uploads, g, { body: file, expect: 401 });
    await call("POST", uploads, g, { body: file, token: t(cat), expect: 403 });
    await call("POST", uploads, missing, { body: file, token: t(ben), expect: 404 });
    await call("POST", uploads, g, { body: HUGE, token: t(ben), expect: 413 });
    await call("POST", uploads, g, {
      body: { ...file, size: DEFAULT_UPLOAD_LIMITS.maxBytes + 1 },
      token: t(ben),
      expect: 413,
    });
    await call("POST", uploads, g, {
      body: { ...file, content_type: "text/html" },
      token: t(ben),
      expect: 415,
    });
    const object = `${room}/objects/{object_id}`;
    const o1 = { ...g, object_id: granted.object_id };
    await call("GET", object, o1, { token: t(ben), expect: 200 });
    await call("GET", object, { ...o1, object_id: "x" }, { token: t(ben), expect: 400 });
    await call("GET", object, o1, { expect: 401 });
    await call("GET", object, o1, { token: t(cat), expect: 403 });
    await call("GET", object, { ...o1, room_id: NO_ROOM }, { token: t(ben), expect: 404 });

    // ---- match ----
    const tc = await call("POST", "/v1/match", none, {
      body: { request_id: "c", tags: ["chess"], language: "xx" },
      token: t(cat),
      expect: 200,
    });
    await call("POST", "/v1/match", none, { body: { tags: [] }, token: t(cat), expect: 400 });
    await call("POST", "/v1/match", none, { body: { request_id: "c" }, expect: 401 });
    await call("POST", "/v1/match", none, { body: HUGE, token: t(cat), expect: 413 });
    const ticket = "/v1/match/{ticket_id}";
    await call("GET", ticket, { ticket_id: tc.id }, { token: t(cat), expect: 200 });
    await call("GET", ticket, { ticket_id: "x" }, { token: t(cat), expect: 400 });
    await call("GET", ticket, { ticket_id: tc.id }, { expect: 401 });
    await call("GET", ticket, { ticket_id: tc.id }, { token: t(ben), expect: 404 });
    await call("DELETE", ticket, { ticket_id: tc.id }, { token: t(cat), expect: 200 });
    await call("DELETE", ticket, { ticket_id: "x" }, { token: t(cat), expect: 400 });
    await call("DELETE", ticket, { ticket_id: tc.id }, { expect: 401 });
    await call("DELETE", ticket, { ticket_id: tc.id }, { token: t(ben), expect: 404 });
    await call("DELETE", ticket, { ticket_id: tc.id }, { body: HUGE, token: t(cat), expect: 413 });
    const ta = await call("POST", "/v1/match", none, {
      body: { request_id: "a" },
      token: t(ann),
      expect: 200,
    });
    await call("POST", "/v1/match", none, {
      body: { request_id: "b" },
      token: t(ben),
      expect: 200,
    });
    await waitFor(
      "ann's ticket matched",
      async () => {
        const r = await rest.call("GET", `/v1/match/${ta.id}`, undefined, t(ann));
        return r.body.state === "matched" ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 20 },
    );
    await call("GET", ticket, { ticket_id: ta.id }, { token: t(ann), expect: 200 });
    await call("DELETE", ticket, { ticket_id: ta.id }, { token: t(ann), expect: 409 });

    // ---- server API ----
    const k = SERVER_KEY;
    const offline = new Rest(off.urls[0] as string);
    const sroom = await call("POST", "/v1/server/rooms", none, {
      body: { kind: "group", name: "s", owner_id: ann.userId, members: [ben.userId] },
      token: k,
      expect: 201,
    });
    await call("POST", "/v1/server/rooms", none, { body: { kind: "x" }, token: k, expect: 400 });
    await call("POST", "/v1/server/rooms", none, { body: { kind: "channel" }, expect: 401 });
    await call("POST", "/v1/server/rooms", none, {
      body: { kind: "channel", name: "c" },
      token: k,
      via: offline,
      expect: 403,
    });
    await call("POST", "/v1/server/rooms", none, {
      body: { kind: "group", name: "s", members: [NO_ROOM] },
      token: k,
      expect: 404,
    });
    await call("POST", "/v1/server/rooms", none, { body: HUGE, token: k, expect: 413 });

    const post = "/v1/server/rooms/{room_id}/messages";
    const s = { room_id: sroom.id };
    const msg = { idempotency_key: "k1", sender_id: "bot:docs", content: { text: "hi" } };
    await call("POST", post, s, { body: msg, token: k, expect: 201 });
    await call("POST", post, s, { body: msg, token: k, expect: 200 });
    await call("POST", post, s, { body: { ...msg, sender_id: "x" }, token: k, expect: 400 });
    await call("POST", post, s, { body: msg, token: t(ann), expect: 401 });
    await call("POST", post, s, { body: msg, token: k, via: offline, expect: 403 });
    await call("POST", post, missing, { body: msg, token: k, expect: 404 });
    await call("POST", post, s, {
      body: { ...msg, content: { text: "other" } },
      token: k,
      expect: 409,
    });
    await call("POST", post, s, { body: HUGE, token: k, expect: 413 });

    const member = "/v1/server/rooms/{room_id}/members/{user_id}";
    const sc = { room_id: sroom.id, user_id: cat.userId };
    for (const method of ["PUT", "DELETE"]) {
      await call(method, member, sc, { token: k, expect: 200 });
      await call(method, member, { ...sc, user_id: "x" }, { token: k, expect: 400 });
      await call(method, member, sc, { expect: 401 });
      await call(
        method,
        member,
        { room_id: direct.id, user_id: cat.userId },
        {
          token: k,
          expect: 403,
        },
      );
      await call(method, member, { ...sc, room_id: NO_ROOM }, { token: k, expect: 404 });
    }
    await call("PUT", member, { ...sc, user_id: NO_ROOM }, { token: k, expect: 404 });

    const disconnect = "/v1/server/users/{user_id}/disconnect";
    const u = { user_id: cat.userId };
    await call("POST", disconnect, u, { body: { reason: "bye" }, token: k, expect: 202 });
    await call("POST", disconnect, u, { token: k, expect: 202 });
    await call("POST", disconnect, u, { body: { reason: 1 }, token: k, expect: 400 });
    await call("POST", disconnect, u, { expect: 401 });
    await call("POST", disconnect, u, { token: k, via: offline, expect: 403 });
    await call("POST", disconnect, { user_id: NO_ROOM }, { token: k, expect: 404 });
    await call("POST", disconnect, u, { body: HUGE, token: k, expect: 413 });

    // ---- notifications ----
    const dm = await ChatSocket.open(cluster.urls[0] as string, t(ann));
    try {
      await dm.request({
        type: "message",
        room_id: direct.id,
        client_msg_id: "n1",
        msg_type: "text",
        content: { text: "for ben, who is offline" },
      });
    } finally {
      await dm.close();
    }
    const notifications = "/v1/notifications";
    const listed = await waitFor("ben's notification", async () => {
      const r = await call("GET", notifications, none, { token: t(ben), expect: 200 });
      return r.notifications.length === 1 ? r : undefined;
    });
    const [notification] = listed.notifications;
    await call("GET", notifications, none, { query: "before=x", token: t(ben), expect: 400 });
    await call("GET", notifications, none, { expect: 401 });
    const one = "/v1/notifications/{message_id}/read";
    await call("POST", one, { message_id: notification.id }, { token: t(ben), expect: 200 });
    await call("POST", one, { message_id: "x" }, { token: t(ben), expect: 400 });
    await call("POST", one, { message_id: notification.id }, { expect: 401 });
    await call("POST", one, { message_id: NO_ROOM }, { token: t(ben), expect: 404 });
    const all = "/v1/notifications/read";
    const upTo = { up_to: notification.cursor };
    await call("POST", all, none, { body: upTo, token: t(ben), expect: 200 });
    await call("POST", all, none, { body: { up_to: 1 }, token: t(ben), expect: 400 });
    await call("POST", all, none, { body: upTo, expect: 401 });
    await call("POST", all, none, { body: HUGE, token: t(ben), expect: 413 });
    await call("GET", "/v1/mutes", none, { token: t(ben), expect: 200 });
    await call("GET", "/v1/mutes", none, { expect: 401 });
    const mute = `${room}/mute`;
    for (const method of ["PUT", "DELETE"]) {
      await call(method, mute, g, { token: t(ben), expect: 200 });
      await call(method, mute, bad, { token: t(ben), expect: 400 });
      await call(method, mute, g, { expect: 401 });
    }
    await call("PUT", mute, g, { token: t(cat), expect: 403 });
    await call("PUT", mute, missing, { token: t(cat), expect: 404 });

    // every operation exercised: a success, and each documented client error
    for (const key of operations) {
      const statuses = seen.get(key);
      assert.ok(statuses, `${key} was exercised`);
      assert.ok(
        SUCCEED_ELSEWHERE[key] !== undefined || [...statuses].some((s) => s.startsWith("2")),
        `${key} succeeded once`,
      );
      const [method, path] = key.split(" ") as [string, string];
      for (const status of Object.keys(doc.paths[path][method.toLowerCase()].responses)) {
        if (!PROVOKED.includes(status) || UNREACHABLE[`${key} ${status}`] !== undefined) continue;
        assert.ok(statuses.has(status), `${key}: the documented ${status} was provoked`);
      }
    }
  });
});
