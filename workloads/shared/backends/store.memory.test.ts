import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { storeContract } from "./store.contract.ts";
import { MemoryStore, SWEEP_EVERY_MS } from "./store.memory.ts";

storeContract("memory", async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe("memory store", () => {
  it("drops expired refresh tokens and sign-on records, not live ones, so a long run does not grow", async () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    const store = new MemoryStore({ now: () => now });
    const token = (ttlMs: number) => ({
      id: randomUUID(),
      userId: "u1",
      family: randomUUID(),
      expiresAt: new Date(now + ttlMs),
    });
    const signOn = (ttlMs: number) => ({
      issuer: "https://provider.example.test",
      subject: randomUUID(),
      providerSessionId: randomUUID(),
      sessionId: randomUUID(),
      userId: "u1",
      expiresAt: new Date(now + ttlMs),
    });
    const live = token(3_600_000);
    for (let i = 0; i < 100; i++) await store.saveRefreshToken(token(1_000));
    await store.saveRefreshToken(live);
    await store.consumeRefreshToken(live.id); // consumed, still held: a reuse must be seen
    const liveSignOn = signOn(3_600_000);
    await store.saveSignOnSession(signOn(1_000));
    await store.saveSignOnSession(liveSignOn);
    // each sign-on: by sid, by subject, by our session
    assert.deepEqual(store.heldSessionEntries, { tokens: 101, signOns: 6 });

    now += SWEEP_EVERY_MS;
    await store.saveRefreshToken(token(3_600_000));
    assert.deepEqual(store.heldSessionEntries, { tokens: 2, signOns: 3 });
    assert.equal(await store.consumeRefreshToken(live.id), false, "the reuse is still seen");
    assert.equal((await store.signOnOf(liveSignOn.sessionId))?.sessionId, liveSignOn.sessionId);
  });
});
