// The matcher's handover on the memory backends: idempotent per pair id, crash-safe under the
// outbox lease, and a new match ends the users' earlier one.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, beforeEach, describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { waitFor } from "../../e2e/testkit/index.ts";
import { MemoryBus } from "../shared/backends/bus.memory.ts";
import type { BusConsumer } from "../shared/backends/bus.ts";
import { MemoryMatchQueue } from "../shared/backends/match-queue.memory.ts";
import { MemoryStore } from "../shared/backends/store.memory.ts";
import { type BusEvent, decodeBusEvent } from "../shared/events.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { matcherDefaults } from "./config.ts";
import { Matcher } from "./matcher.ts";

const topic = "t.messages";

describe("matcher handover", () => {
  let store: MemoryStore;
  let queue: MemoryMatchQueue;
  let bus: MemoryBus;
  let consumer: BusConsumer;
  let events: BusEvent[];
  let matcher: Matcher;
  let clock: number;

  const matcherWith = (workerId: string) =>
    new Matcher({
      queue,
      store,
      bus,
      topic,
      settings: { ...matcherDefaults, workerId, leaseMs: 50 },
      log: createLogger("test", "silent"),
      metrics: createMetrics({ defaultMetrics: false }),
      now: () => clock,
    });

  const newUser = async () => {
    const id = randomUUID();
    await store.createUser({
      id,
      username: `u-${id.slice(0, 8)}`,
      displayName: `User ${id.slice(0, 4)}`,
      passwordHash: "x",
      createdAt: new Date(),
    });
    return id;
  };
  const ask = (userId: string) =>
    queue.enqueue({ userId, requestId: randomUUID(), tags: [], language: null }, clock++);
  const members = async (roomId: string) =>
    (await store.listMembers(roomId)).map((m) => m.userId).sort();
  const told = (kind: BusEvent["kind"], roomId: string) =>
    events.filter((e) => e.kind === kind && e.roomId === roomId);

  beforeEach(async () => {
    await consumer?.stop();
    store = new MemoryStore();
    queue = new MemoryMatchQueue();
    bus = new MemoryBus({ partitions: 2 });
    events = [];
    clock = 1_000_000;
    consumer = await bus.consume({
      groupId: "g",
      topic,
      onBatch: async (b) => {
        for (const r of b.records) events.push(decodeBusEvent(r.value) as BusEvent);
      },
    });
    matcher = matcherWith("m1");
  });

  after(async () => {
    await consumer?.stop();
  });

  it("creates the match room with both as members and tells both, with the partner's profile", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const asked = await ask(a);
    await ask(b);
    assert.equal(await matcher.step(), true);
    const ta = (await queue.getTicket(asked.id)) ?? assert.fail("ticket");
    assert.equal(ta.state, "matched");
    const roomId = ta.roomId as string;
    assert.equal((await store.getRoom(roomId))?.kind, "match");
    assert.deepEqual(await members(roomId), [a, b].sort());
    await waitFor("the announcements", () =>
      told("matched", roomId).length === 2 ? true : undefined,
    );
    const toA = told("matched", roomId).find((e) => e.kind === "matched" && e.userId === a);
    assert.equal(toA?.kind === "matched" && toA.partner.id, b);
    assert.equal(told("member", roomId).length, 2, "both joined");
    assert.equal(await matcher.step(), false, "nothing left to do");
  });

  it("finishes a pair whose matcher died after claiming it, once the lease ran out, in the same room", async () => {
    const [a, b] = [await newUser(), await newUser()];
    await ask(a);
    await ask(b);
    const [pair] = await queue.pair({ now: clock, fallbackWaitMs: 0, maxScan: 10 });
    assert.ok(pair);
    // a replica claimed it and died before completing
    assert.equal((await queue.claimPair("dead", 50))?.id, pair.id);
    await waitFor("the lease to run out and the survivor to hand the pair over", async () => {
      await matcher.step();
      return (await store.getRoom(pair.id)) !== undefined ? true : undefined;
    });
    assert.deepEqual(await members(pair.id), [a, b].sort());
    assert.equal(await queue.claimPair("anyone", 50), undefined, "the outbox is empty");
  });

  it("hands a pair over again without a second room, and not at all once the match ended", async () => {
    const [a, b] = [await newUser(), await newUser()];
    await ask(a);
    await ask(b);
    const [pair] = await queue.pair({ now: clock, fallbackWaitMs: 0, maxScan: 10 });
    assert.ok(pair);
    await matcher.handover(pair);
    await matcher.handover(pair);
    assert.deepEqual(await members(pair.id), [a, b].sort());
    await waitFor("announced twice", () =>
      told("matched", pair.id).length === 4 ? true : undefined,
    );
    await store.removeMember(pair.id, a);
    await store.removeMember(pair.id, b);
    await matcher.handover(pair);
    assert.deepEqual(await members(pair.id), [], "an ended match stays ended");
    await matcherWith("m2").step();
    assert.equal(told("matched", pair.id).length, 4, "nothing announced for an ended match");
  });

  it("ends a user's earlier match when they are matched anew: never two partners at once", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const a1 = await ask(a);
    await ask(b);
    await matcher.step();
    const first = (await queue.getTicket(a1.id))?.roomId as string;
    assert.deepEqual(await members(first), [a, b].sort());
    // a asks again, without leaving, and is matched with c
    const a2 = await ask(a);
    await ask(c);
    await matcher.step();
    const second = (await queue.getTicket(a2.id))?.roomId as string;
    assert.ok(second !== undefined && second !== first);
    assert.deepEqual(await members(second), [a, c].sort());
    assert.deepEqual(await members(first), [], "the earlier match ended for a and b");
    await waitFor("b told a left", () =>
      told("member", first).some(
        (e) =>
          e.kind === "member" && e.change === "left" && e.userId === a && e.notify?.includes(b),
      )
        ? true
        : undefined,
    );
  });

  it("ends a lagging older match at once instead of giving a user a second partner", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    await ask(a);
    await ask(b);
    const [older] = await queue.pair({ now: clock++, fallbackWaitMs: 0, maxScan: 10 });
    assert.ok(older);
    await queue.claimPair("slow", 60_000);
    await ask(a);
    const tc = await ask(c);
    await matcher.step();
    const newer = (await queue.getTicket(tc.id))?.roomId as string;
    assert.deepEqual(await members(newer), [a, c].sort());
    await matcher.handover(older);
    assert.deepEqual(await members(older.id), [], "the older match ended on arrival");
    assert.deepEqual(await members(newer), [a, c].sort(), "the newer one stands");
    assert.equal(told("matched", older.id).length, 0);
  });
});
