// One contract for every MatchQueue adapter.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { MatchQueue, MatchRequest } from "./match-queue.ts";

export interface MatchQueueFixture {
  readonly queue: MatchQueue;
  cleanup(): Promise<void>;
}

const req = (
  userId: string,
  requestId: string = randomUUID(),
  extra: Partial<MatchRequest> = {},
): MatchRequest => ({
  userId,
  requestId,
  tags: [],
  language: null,
  ...extra,
});

export function matchQueueContract(name: string, make: () => Promise<MatchQueueFixture>): void {
  describe(`MatchQueue contract: ${name}`, () => {
    let f: MatchQueueFixture;
    let q: MatchQueue;
    const opts = (now: number) => ({ now, fallbackWaitMs: 5_000, maxScan: 500 });

    before(async () => {
      f = await make();
      q = f.queue;
    });
    after(async () => {
      await f.cleanup();
    });

    it("returns the same ticket for every retry of a request, and one pending ticket per user", async () => {
      const u = randomUUID();
      const t1 = await q.enqueue(req(u, "r1"), 1000);
      const retries = await Promise.all(
        Array.from({ length: 10 }, () => q.enqueue(req(u, "r1"), 1001)),
      );
      for (const t of retries) assert.equal(t.id, t1.id);
      const other = await q.enqueue(req(u, "r2"), 1002);
      assert.equal(
        other.id,
        t1.id,
        "a second request while one is pending gets the pending ticket",
      );
      assert.equal(t1.state, "pending");
      assert.equal((await q.getTicket(t1.id))?.userId, u);
      assert.equal(await q.cancel(u, t1.id), true);
    });

    it("pairs oldest first, each ticket at most once, never a user with themself", async () => {
      await drain(q);
      const users = Array.from({ length: 7 }, () => randomUUID());
      const tickets = [];
      for (const [i, u] of users.entries()) tickets.push(await q.enqueue(req(u), 10_000 + i));
      const pairs = await q.pair(opts(10_010));
      assert.equal(pairs.length, 3);
      const paired = pairs.flatMap((p) => [p.a.ticketId, p.b.ticketId]);
      assert.equal(new Set(paired).size, 6);
      assert.deepEqual(pairs[0] && [pairs[0].a.userId, pairs[0].b.userId], [users[0], users[1]]);
      assert.equal(await q.queueLength(), 1, "the seventh waits");
      for (const p of pairs) {
        const a = await q.getTicket(p.a.ticketId);
        assert.equal(a?.state, "matched");
        assert.equal(a?.roomId, p.id);
        assert.equal(a?.partnerId, p.b.userId);
      }
      assert.deepEqual(await q.pair(opts(10_020)), [], "nobody to pair the last one with");
      const last = tickets[6];
      if (last) await q.cancel(last.userId, last.id);
      await drain(q);
    });

    it("pairs by shared tag or language first, and two who both waited out the fallback", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await q.enqueue(req(a, "x", { tags: ["chess"] }), 20_000);
      await q.enqueue(req(b, "x", { tags: ["golf"] }), 20_001);
      await q.enqueue(req(c, "x", { tags: ["golf", "chess"], language: "en" }), 20_002);
      const first = await q.pair(opts(20_010));
      assert.equal(first.length, 1);
      assert.deepEqual([first[0]?.a.userId, first[0]?.b.userId], [a, c], "a and c share chess");
      assert.deepEqual(await q.pair(opts(20_020)), [], "b waits alone");
      const [d] = [randomUUID()];
      await q.enqueue(req(d, "x", { tags: ["tennis"], language: "fr" }), 20_030);
      assert.deepEqual(await q.pair(opts(20_040)), [], "golf and tennis do not match yet");
      assert.deepEqual(
        await q.pair(opts(20_001 + 5_000)),
        [],
        "b waited out the fallback, but d has not: d still gets the chance of a tennis partner",
      );
      const late = await q.pair(opts(20_030 + 5_000));
      assert.deepEqual([late[0]?.a.userId, late[0]?.b.userId], [b, d], "both waited: anyone");
      await drain(q);
    });

    it("never matches a ticket cancelled, or a user disconnected, before pairing", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const ta = await q.enqueue(req(a), 30_000);
      await q.enqueue(req(b), 30_001);
      await q.enqueue(req(c), 30_002);
      assert.equal(await q.cancel(a, ta.id), true);
      assert.equal(await q.cancel(a, ta.id), false, "only once");
      const tb = await q.enqueue(req(b, "again"), 30_003);
      assert.equal(await q.cancelUser(b), tb.id);
      assert.equal(await q.cancelUser(b), undefined, "nothing left to cancel");
      assert.deepEqual(await q.pair(opts(30_010)), []);
      assert.equal((await q.getTicket(ta.id))?.state, "cancelled");
      assert.equal(
        await q.cancel(randomUUID(), (await q.enqueue(req(c), 30_020)).id),
        false,
        "not someone else's",
      );
      await q.cancelUser(c);
    });

    it("looks again after a cancel frees a place in the scan window", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await q.enqueue(req(a, "w", { tags: ["window-x"] }), 35_000);
      const tb = await q.enqueue(req(b, "w", { tags: ["window-y"] }), 35_001);
      await q.enqueue(req(c, "w", { tags: ["window-x"] }), 35_002);
      const narrow = { now: 35_010, fallbackWaitMs: 5_000, maxScan: 2 };
      assert.deepEqual(await q.pair(narrow), [], "c is beyond the window");
      assert.deepEqual(await q.pair(narrow), [], "and still is");
      await q.cancel(b, tb.id);
      const [p] = await q.pair(narrow);
      assert.deepEqual([p?.a.userId, p?.b.userId], [a, c]);
      await drain(q);
    });

    it("cannot cancel a matched ticket", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const ta = await q.enqueue(req(a), 40_000);
      await q.enqueue(req(b), 40_001);
      assert.equal((await q.pair(opts(40_002))).length, 1);
      assert.equal(await q.cancel(a, ta.id), false);
      assert.equal((await q.getTicket(ta.id))?.state, "matched");
      await drain(q);
    });

    it("hands each pair to one worker at a time until completed; an expired lease frees it", async () => {
      await drain(q);
      const [a, b] = [randomUUID(), randomUUID()];
      await q.enqueue(req(a), 50_000);
      await q.enqueue(req(b), 50_001);
      const [pair] = await q.pair(opts(50_002));
      assert.ok(pair);
      const w1 = await q.claimPair("w1", 60_000);
      assert.equal(w1?.id, pair.id);
      assert.equal(await q.claimPair("w2", 60_000), undefined, "leased");
      await q.completePair(pair);
      assert.equal(await q.claimPair("w2", 60_000), undefined, "completed");
      const [c, d] = [randomUUID(), randomUUID()];
      await q.enqueue(req(c), 50_010);
      await q.enqueue(req(d), 50_011);
      const [second] = await q.pair(opts(50_012));
      assert.ok(second);
      assert.equal((await q.claimPair("w1", 1))?.id, second.id);
      const taken = await waitForClaim(q, "w2");
      assert.equal(taken.id, second.id, "a dead worker's pair goes to another");
      await q.completePair(second);
    });

    it("pairs 200 concurrent users (half retrying) exactly once each", async () => {
      await drain(q);
      const users = Array.from({ length: 200 }, () => randomUUID());
      await Promise.all(
        users.flatMap((u, i) => {
          const r = req(u, `req-${i}`);
          return i % 2 === 0
            ? [q.enqueue(r, 60_000 + i), q.enqueue(r, 60_000 + i)]
            : [q.enqueue(r, 60_000 + i)];
        }),
      );
      const runs = await Promise.all([
        q.pair(opts(61_000)),
        q.pair(opts(61_000)),
        q.pair(opts(61_000)),
      ]);
      const pairs = runs.flat();
      assert.equal(pairs.length, 100);
      const seen = pairs.flatMap((p) => [p.a.userId, p.b.userId]);
      assert.equal(new Set(seen).size, 200);
      await drain(q);
    });
  });
}

async function drain(q: MatchQueue): Promise<void> {
  for (;;) {
    const p = await q.claimPair("drain", 60_000);
    if (p === undefined) return;
    await q.completePair(p);
  }
}

async function waitForClaim(q: MatchQueue, worker: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const p = await q.claimPair(worker, 60_000);
    if (p !== undefined) return p;
    if (Date.now() > deadline) throw new Error("the lease never expired");
    await new Promise((r) => setImmediate(r));
  }
}
