import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { MemoryDelivery } from "../../shared/backends/delivery.memory.ts";
import { MemoryRegistry } from "../../shared/backends/registry.memory.ts";
import { MemoryStore } from "../../shared/backends/store.memory.ts";
import type { Store } from "../../shared/backends/store.ts";
import { Sessions } from "./sessions.ts";
import { Tokens } from "./tokens.ts";

const DAY_S = 24 * 3600;
const ISSUER = "https://provider.example.test/realms/one";

function setup(store?: (now: () => number) => Store) {
  let now = Date.parse("2026-12-01T00:00:00Z");
  const clock = () => now;
  const s = store?.(clock) ?? new MemoryStore({ now: clock });
  const ctx = {
    store: s,
    registry: new MemoryRegistry(),
    delivery: new MemoryDelivery(),
    log: createLogger("test", "silent"),
  };
  const cfg = {
    secret: new TextEncoder().encode("a test secret of thirty-two bytes!"),
    issuer: "switchboard-test",
    accessTtlSeconds: 900,
    refreshTtlSeconds: 30 * DAY_S,
  };
  const tokens = new Tokens(cfg, s, new Sessions(ctx, clock), clock);
  return { store: s, tokens, advanceDays: (d: number) => (now += d * DAY_S * 1000), clock };
}

/** A session as the sign-on callback starts it: its record, then its first tokens. */
async function signedOn(t: ReturnType<typeof setup>) {
  const userId = randomUUID();
  const sessionId = randomUUID();
  const sid = randomUUID();
  await t.store.saveSignOnSession({
    issuer: ISSUER,
    subject: `sub-${userId}`,
    providerSessionId: sid,
    sessionId,
    userId,
    expiresAt: new Date(t.clock() + 30 * DAY_S * 1000),
  });
  const pair = await t.tokens.issue(userId, "mallory", sessionId);
  return { userId, sessionId, sid, pair };
}

describe("tokens", () => {
  it("a refreshed session a sign-on started stays findable by the provider past the first refresh lifetime", async () => {
    const t = setup();
    const s = await signedOn(t);
    t.advanceDays(20);
    const second = await t.tokens.refresh(s.pair.refresh_token);
    t.advanceDays(20); // 40 days after the sign-on, 20 after the refresh
    assert.deepEqual(await t.store.signOnSessions(ISSUER, { sid: s.sid }), [
      { sessionId: s.sessionId, userId: s.userId },
    ]);
    assert.equal((await t.store.signOnOf(s.sessionId))?.providerSessionId, s.sid);
    await t.tokens.refresh(second.refresh_token);
    t.advanceDays(29); // 69 days after the sign-on
    assert.equal(
      (await t.store.signOnSessions(ISSUER, { subject: `sub-${s.userId}` }))[0]?.sessionId,
      s.sessionId,
    );
  });

  it("a session not refreshed is forgotten at its end, and a password session gets no record", async () => {
    const t = setup();
    const s = await signedOn(t);
    const password = await t.tokens.issue(randomUUID(), "alice");
    t.advanceDays(20);
    const renewed = await t.tokens.refresh(password.refresh_token);
    const passwordSession = (await t.tokens.verifyAccess(renewed.access_token)).sessionId;
    assert.equal(await t.store.signOnOf(passwordSession), undefined);
    t.advanceDays(11);
    assert.deepEqual(await t.store.signOnSessions(ISSUER, { sid: s.sid }), []);
    assert.equal(await t.store.signOnOf(s.sessionId), undefined);
    await assert.rejects(t.tokens.refresh(s.pair.refresh_token), { code: "TOKEN_EXPIRED" });
  });

  it("a refresh whose record cannot be renewed fails before the token is used, so a retry works", async () => {
    let failing = true;
    const t = setup((now) => {
      const memory = new MemoryStore({ now });
      return new Proxy(memory, {
        get(target, key) {
          if (key === "signOnOf" && failing) {
            return () => Promise.reject(new Error("the store does not answer"));
          }
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    });
    const s = await signedOn(t);
    await assert.rejects(t.tokens.refresh(s.pair.refresh_token), /does not answer/);
    failing = false;
    const next = await t.tokens.refresh(s.pair.refresh_token);
    assert.ok((await t.tokens.verifyAccess(next.access_token)).sessionId === s.sessionId);
  });
});
