// The RateLimiter contract: every adapter passes this suite, handed a factory. Where the adapter's
// clock is injectable the suite drives it; where it is not (Redis reads the server's TIME) the
// suite never sleeps a fixed time: denial is proven with a refill so slow that a test's duration
// adds no token, and refill with a fast one, polled with a deadline.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { waitFor } from "../../../e2e/testkit/index.ts";
import type { BucketSpec, RateDecision, RateLimiter } from "./rate-limiter.ts";

export interface RateLimiterHarness {
  readonly subject: RateLimiter;
  /** moves the subject's clock; undefined when the subject's clock is real */
  readonly clock: { advance(ms: number): void } | undefined;
  /** closes the subject and removes what it stored */
  cleanup(): Promise<void>;
}

export type RateLimiterFactory = () => Promise<RateLimiterHarness>;

/** one token per 1,000 s: nothing refills while a test runs */
const frozen = (capacity: number): BucketSpec => ({ capacity, refillPerSecond: 0.001 });

const decision = (allowed: boolean, remaining: number, retryAfterMs = 0): RateDecision => ({
  allowed,
  remaining,
  retryAfterMs,
});

/** Takes until denied (the bucket refills far slower than the loop takes), and returns the denial. */
async function drain(subject: RateLimiter, key: string, spec: BucketSpec): Promise<RateDecision> {
  for (let i = 0; i < spec.capacity + 1_000; i++) {
    const d = await subject.take(key, spec);
    if (!d.allowed) return d;
  }
  throw new Error(`the bucket ${key} was never empty`);
}

export function rateLimiterContract(name: string, factory: RateLimiterFactory): void {
  const test = (title: string, body: (h: RateLimiterHarness, t: TestContext) => Promise<void>) =>
    it(title, async (t) => {
      const harness = await factory();
      try {
        await body(harness, t);
      } finally {
        await harness.cleanup();
      }
    });

  describe(`RateLimiter contract: ${name}`, () => {
    test("a burst of capacity is allowed, then a take is denied with retryAfterMs > 0", async ({
      subject,
      clock,
    }) => {
      const spec = frozen(5);
      for (const remaining of [4, 3, 2, 1, 0]) {
        assert.deepEqual(await subject.take("user-1", spec), decision(true, remaining));
      }
      const denied = await subject.take("user-1", spec);
      assert.equal(denied.allowed, false);
      assert.equal(denied.remaining, 0);
      assert.ok(
        denied.retryAfterMs > 0 && denied.retryAfterMs <= 1_000_000,
        `${denied.retryAfterMs}`,
      );
      if (clock !== undefined) assert.equal(denied.retryAfterMs, 1_000_000);
    });

    test("a denied take consumes nothing, and cost counts tokens", async ({ subject }) => {
      const spec = frozen(5);
      assert.deepEqual(await subject.take("user-1", spec, 3), decision(true, 2));
      const denied = await subject.take("user-1", spec, 3);
      assert.equal(denied.allowed, false);
      assert.equal(denied.remaining, 2);
      assert.deepEqual(await subject.take("user-1", spec, 2), decision(true, 0));
    });

    test("the bucket refills: after retryAfterMs a take is allowed again", async ({
      subject,
      clock,
    }) => {
      if (clock !== undefined) {
        const spec = { capacity: 2, refillPerSecond: 2 };
        const denied = await drain(subject, "user-1", spec);
        assert.equal(denied.retryAfterMs, 500);
        clock.advance(499);
        assert.equal((await subject.take("user-1", spec)).allowed, false);
        clock.advance(1);
        assert.deepEqual(await subject.take("user-1", spec), decision(true, 0));
        return;
      }
      const spec = { capacity: 2, refillPerSecond: 10 };
      const denied = await drain(subject, "user-1", spec);
      assert.ok(denied.retryAfterMs > 0 && denied.retryAfterMs <= 100, `${denied.retryAfterMs}`);
      await waitFor(
        "a take allowed after refill",
        async () => ((await subject.take("user-1", spec)).allowed ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 20 },
      );
    });

    test("refill stops at the capacity", async ({ subject, clock }, t) => {
      if (clock === undefined) {
        t.skip("needs a clock the test drives; a fresh bucket starting full shows the cap");
        return;
      }
      const spec = { capacity: 3, refillPerSecond: 1 };
      await drain(subject, "user-1", spec);
      clock.advance(3_600_000);
      for (const remaining of [2, 1, 0]) {
        assert.deepEqual(await subject.take("user-1", spec), decision(true, remaining));
      }
      assert.equal((await subject.take("user-1", spec)).allowed, false);
    });

    test("separate keys have separate buckets", async ({ subject }) => {
      const spec = frozen(3);
      await drain(subject, "user-1", spec);
      for (const remaining of [2, 1, 0]) {
        assert.deepEqual(await subject.take("user-2", spec), decision(true, remaining));
      }
      assert.equal((await subject.take("user-1", spec)).allowed, false);
    });

    test("a spec or cost that is not positive, or a cost above the capacity, is rejected", async ({
      subject,
    }) => {
      const bad: [BucketSpec, number][] = [
        [{ capacity: 0, refillPerSecond: 1 }, 1],
        [{ capacity: 5, refillPerSecond: 0 }, 1],
        [{ capacity: Number.NaN, refillPerSecond: 1 }, 1],
        [{ capacity: 5, refillPerSecond: Number.POSITIVE_INFINITY }, 1],
        [{ capacity: 5, refillPerSecond: 1 }, 0],
        [{ capacity: 5, refillPerSecond: 1 }, -1],
        [{ capacity: 5, refillPerSecond: 1 }, 6],
      ];
      for (const [spec, cost] of bad) {
        await assert.rejects(subject.take("user-1", spec, cost), RangeError);
      }
      assert.deepEqual(await subject.take("user-1", frozen(5), 5), decision(true, 0));
    });
  });
}
