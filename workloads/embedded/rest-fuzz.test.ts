// Generated bodies (fast-check) for every REST operation that takes one, on a live gateway:
// any JSON value, a valid body with one field replaced by any JSON value, dropped or joined by
// an unknown one, and text that is mostly not JSON. Every answer is below 500, documented for
// the operation in the published OpenAPI document, with a matching body and a listed code;
// afterwards the gateway still serves a healthy pair of users. A bounded sample runs in CI
// (REST_FUZZ_RUNS per operation, 60 by default); raise it for a long run. With
// FUZZ_REPORT=<file>, the counts are written there as JSON (npm run fuzz reads them).

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { ChatSocket, OpenApiChecker, Rest, type Session } from "../../e2e/testkit/index.ts";
import { DEFAULT_UPLOAD_LIMITS } from "../gateway/config.ts";
import { MemoryObjectStore } from "../shared/backends/object-store.memory.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

const RUNS = Number(process.env.REST_FUZZ_RUNS ?? 60);
const SERVER_KEY = "fuzz-0123456789abcdef0123456789abcdef";

/** a body to send: JSON (serialized by the client) or raw text */
type Input = { readonly json: unknown } | { readonly text: string };

/** Bodies around a valid one: the generators the property draws from. */
function inputs(valid: Record<string, unknown>): fc.Arbitrary<Input> {
  const keys = Object.keys(valid);
  const field = fc.constantFrom(...keys);
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json })),
    fc
      .tuple(field, fc.jsonValue({ maxDepth: 2 }))
      .map(([k, v]) => ({ json: { ...valid, [k]: v } })),
    field.map((k) => {
      const { [k]: _dropped, ...rest } = valid;
      return { json: rest };
    }),
    fc
      .tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }))
      .filter(([k]) => !keys.includes(k))
      .map(([k, v]) => ({ json: { ...valid, [k]: v } })),
    fc.string({ maxLength: 64 }).map((text) => ({ text })),
    fc.constant({ json: valid }),
  );
}

describe("REST body fuzzing", () => {
  let cluster: InProcessCluster;
  let rest: Rest;
  let checker: OpenApiChecker;
  let ann: Session;
  let ben: Session;
  /** whose refresh token the refresh fuzz rotates (and, reused, revokes) */
  let spare: Session;
  let roomId: string;
  let ticketId: string;
  let objects: MemoryObjectStore;

  before(async () => {
    objects = await MemoryObjectStore.start();
    cluster = await startCluster({
      uploads: {
        objects,
        cluster: "fuzz",
        limits: {
          ...DEFAULT_UPLOAD_LIMITS,
          rate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
        },
      },
      limits: {
        userRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
        anonymousRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
        serverRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
      },
      serverKeys: [SERVER_KEY],
    });
    rest = new Rest(cluster.urls[0] as string);
    checker = await OpenApiChecker.fetch(cluster.urls[0] as string);
    [ann, ben, spare] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("spare"),
    ]);
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "fuzz", members: [ben.userId] },
      ann.accessToken,
    );
    roomId = room.id;
    const ticket = await rest.ok("POST", "/v1/match", { request_id: "t" }, ann.accessToken);
    ticketId = ticket.id;
  });

  after(async () => {
    await cluster.stop();
    await objects.close();
  });

  /** a valid body per operation that takes one; the test fails if one is missing */
  const valid = (): Record<string, Record<string, unknown>> => ({
    "POST /v1/auth/register": {
      username: "fuzzer",
      password: "password-123",
      display_name: "F",
      email: "fuzzer@example.test",
    },
    "POST /v1/auth/login": { username: "ann", password: "password-123" },
    "POST /v1/auth/refresh": { refresh_token: spare.refreshToken },
    "POST /v1/auth/logout": { refresh_token: "not-this-session" },
    // single sign-on is off here: a well-formed code is SSO_NOT_CONFIGURED
    "POST /v1/auth/oidc/exchange": { code: "A".repeat(43) },
    "POST /v1/auth/oidc/logout": { refresh_token: "not-this-session" },
    // a well-formed body is SSO_NOT_CONFIGURED too
    "POST /v1/auth/oidc/backchannel-logout": { logout_token: "a.b.c" },
    "POST /v1/rooms": { kind: "group", name: "made", members: [ben.userId] },
    "POST /v1/rooms/{room_id}/members": { user_id: ben.userId },
    "PUT /v1/rooms/{room_id}/read": { seq: 0 },
    "POST /v1/rooms/{room_id}/uploads": { name: "a.png", size: 100, content_type: "image/png" },
    "POST /v1/match": { request_id: "r", tags: ["chess"], language: "en" },
    "POST /v1/notifications/read": { up_to: `1700000000000_${ann.userId}` },
    "POST /v1/server/rooms": { kind: "group", name: "made", owner_id: ann.userId },
    "POST /v1/server/rooms/{room_id}/messages": {
      idempotency_key: "fuzz",
      sender_id: "bot:fuzz",
      msg_type: "text",
      content: { text: "fuzz" },
    },
    "POST /v1/server/users/{user_id}/disconnect": { reason: "fuzz" },
  });

  it("answers every generated body with a documented answer, and keeps serving", async () => {
    const bodies = valid();
    const withBody = checker
      .operations()
      .filter((key) => {
        const [method, path] = key.split(" ") as [string, string];
        return checker.operation(method, path)?.requestBody !== undefined;
      })
      .sort();
    assert.deepEqual(withBody, Object.keys(bodies).sort(), "a valid body for every operation");

    const statuses = new Map<number, number>();
    let sent = 0;
    for (const key of withBody) {
      const [method, template] = key.split(" ") as [string, string];
      const path = template
        .replace("{room_id}", roomId)
        .replace("{ticket_id}", ticketId)
        .replace("{user_id}", spare.userId);
      // the logout runs with a session of its own, so it does not end ann's; the server API
      // takes the server key
      const token = key.includes("logout")
        ? (await rest.register(`out${Math.random().toString(36).slice(2, 10)}`)).accessToken
        : key.includes("/v1/server/")
          ? SERVER_KEY
          : ann.accessToken;
      await fc.assert(
        fc.asyncProperty(inputs(bodies[key] as Record<string, unknown>), async (input) => {
          const body = "json" in input ? JSON.stringify(input.json) : input.text;
          const r = await rest.call(method, path, body ?? "null", token);
          sent++;
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          assert.ok(r.status < 500, `${key} ${body}: ${r.status} ${JSON.stringify(r.body)}`);
          const problem = checker.problem(method, template, r.status, r.body);
          assert.equal(problem, undefined, `${key} ${body}: ${problem}`);
        }),
        { numRuns: RUNS },
      );
    }

    assert.equal((await rest.call("GET", "/healthz")).status, 200);
    const [sa, sb] = await Promise.all([
      ChatSocket.open(cluster.urls[0] as string, ann.accessToken),
      ChatSocket.open(cluster.urls[0] as string, ben.accessToken),
    ]);
    try {
      const ack = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "after-fuzz",
        msg_type: "text",
        content: { text: "still here" },
      });
      assert.equal(ack.type, "ack");
      await sb.waitFor((f) => f.type === "message" && f.message_id === ack.message_id);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
    if (process.env.FUZZ_REPORT) {
      writeFileSync(
        process.env.FUZZ_REPORT,
        JSON.stringify({
          target: "REST bodies (live gateway, embedded)",
          inputs: sent,
          operations: withBody.length,
          crashes: 0,
          statuses: Object.fromEntries(statuses),
        }),
      );
    }
  });
});
