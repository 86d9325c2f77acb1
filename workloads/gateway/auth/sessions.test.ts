import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { MemoryDelivery } from "../../shared/backends/delivery.memory.ts";
import { MemoryRegistry } from "../../shared/backends/registry.memory.ts";
import { MemoryStore } from "../../shared/backends/store.memory.ts";
import { REVOCATION_CHECK_MS, Sessions } from "./sessions.ts";

function setup() {
  let now = 1_000_000;
  const store = new MemoryStore();
  const ctx = {
    store,
    registry: new MemoryRegistry(),
    delivery: new MemoryDelivery(),
    log: createLogger("test", "silent"),
  };
  const sessions = new Sessions(ctx, () => now);
  return { store, sessions, advance: (ms: number) => (now += ms) };
}

describe("sessions", () => {
  it("a revocation made elsewhere is seen once the last answer is REVOCATION_CHECK_MS old", async () => {
    const { store, sessions, advance } = setup();
    assert.equal(await sessions.isRevoked("s1"), false);
    await store.revokeRefreshFamily("s1"); // another gateway's logout
    advance(REVOCATION_CHECK_MS - 1);
    assert.equal(await sessions.isRevoked("s1"), false, "within the bound the answer may be old");
    advance(1);
    assert.equal(await sessions.isRevoked("s1"), true);
  });

  it("a revocation made or heard here is refused at once and tells the listeners", async () => {
    const { sessions } = setup();
    const heard: string[] = [];
    sessions.onRevoked((userId, sid) => heard.push(`${userId}/${sid}`));
    assert.equal(await sessions.isRevoked("s1"), false);
    await sessions.revoke("u1", "s1");
    assert.equal(await sessions.isRevoked("s1"), true);
    sessions.revokedElsewhere("u2", "s2");
    assert.deepEqual(await sessions.revokedAmong(["s1", "s2", "s3"]), new Set(["s1", "s2"]));
    assert.deepEqual(heard, ["u1/s1", "u2/s2"]);
  });

  it("a store that fails: the last answer stands, a session never seen is UNAVAILABLE", async () => {
    const { store, sessions, advance } = setup();
    assert.equal(await sessions.isRevoked("known"), false);
    store.revokedRefreshFamilies = async () => {
      throw new Error("store down");
    };
    advance(REVOCATION_CHECK_MS);
    assert.equal(await sessions.isRevoked("known"), false);
    await assert.rejects(sessions.isRevoked("unknown"), { code: "UNAVAILABLE" });
  });

  it("concurrent checks of one session share one store read", async () => {
    const { store, sessions } = setup();
    let reads = 0;
    const read = store.revokedRefreshFamilies.bind(store);
    store.revokedRefreshFamilies = async (families) => {
      reads++;
      return read(families);
    };
    const answers = await Promise.all(Array.from({ length: 20 }, () => sessions.isRevoked("s")));
    assert.deepEqual(new Set(answers), new Set([false]));
    assert.equal(reads, 1);
  });
});
