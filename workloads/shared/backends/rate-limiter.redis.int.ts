// RedisRateLimiter on the real Redis: the contract (on the server's clock), plus what only Redis
// can show (two gateway pods sharing one bucket, the key and its expiry), and, on a Redis of the
// test's own that it stops, the fallback to a per-process limit during an outage.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { OwnPart, redisUrl, uniqueName, waitFor } from "../../../e2e/testkit/index.ts";
import { rateLimiterContract } from "./rate-limiter.contract.ts";
import { RedisRateLimiter } from "./rate-limiter.redis.ts";
import {
  boundedRedisOptions,
  closeClient,
  dropNamespace,
  type RedisKeys,
  redisKeys,
} from "./redis-keys.ts";

const freshKeys = (): RedisKeys => redisKeys(`sb:${uniqueName("ratelimit")}:`);

rateLimiterContract("redis", async () => {
  const keys = freshKeys();
  const client = new Redis(redisUrl(), boundedRedisOptions());
  const subject = new RedisRateLimiter(client, { namespace: keys.namespace });
  return {
    subject,
    clock: undefined,
    cleanup: async () => {
      await dropNamespace(client, keys);
      await subject.close();
    },
  };
});

describe("RedisRateLimiter on Redis", () => {
  let admin: Redis;
  before(() => {
    admin = new Redis(redisUrl(), boundedRedisOptions());
  });
  after(async () => {
    await closeClient(admin);
  });

  it("two gateway pods on two connections share one bucket: 50 concurrent takes of 20 tokens allow 20", async () => {
    const keys = freshKeys();
    const podA = RedisRateLimiter.connect(redisUrl(), { namespace: keys.namespace });
    const podB = RedisRateLimiter.connect(redisUrl(), { namespace: keys.namespace });
    try {
      const spec = { capacity: 20, refillPerSecond: 0.001 };
      const decisions = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? podA : podB).take("user-1", spec)),
      );
      const allowed = decisions.filter((d) => d.allowed);
      assert.equal(allowed.length, 20);
      assert.deepEqual(
        allowed.map((d) => d.remaining).sort((x, y) => x - y),
        Array.from({ length: 20 }, (_, i) => i),
      );
      assert.ok(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0));
    } finally {
      await dropNamespace(admin, keys);
      await Promise.all([podA.close(), podB.close()]);
    }
  });

  it("concurrent takes are each decided in Redis, also when Redis has lost the script", async () => {
    const keys = freshKeys();
    const pod = RedisRateLimiter.connect(redisUrl(), { namespace: keys.namespace });
    try {
      const spec = { capacity: 5, refillPerSecond: 0.001 };
      await pod.take("warm", spec); // the script is cached now
      await admin.script("FLUSH"); // as after a Redis restart: every EVALSHA answers NOSCRIPT
      const decisions = await Promise.all([
        ...Array.from({ length: 8 }, () => pod.take("user-1", spec)),
        ...Array.from({ length: 3 }, () => pod.take("user-2", spec)),
      ]);
      assert.equal(decisions.slice(0, 8).filter((d) => d.allowed).length, 5);
      assert.ok(decisions.slice(8).every((d) => d.allowed));
      assert.equal(pod.degraded, false, "decided in Redis, not locally");
    } finally {
      await dropNamespace(admin, keys);
      await pod.close();
    }
  });

  it("keeps a bucket as a hash under the namespace that expires once full again", async () => {
    const keys = freshKeys();
    const subject = RedisRateLimiter.connect(redisUrl(), { namespace: keys.namespace });
    try {
      await subject.take("user-1", { capacity: 10, refillPerSecond: 0.001 }, 4);
      const key = keys.rateBucket("user-1");
      assert.equal(key, `${keys.namespace}rl:user-1`);
      const bucket = await admin.hgetall(key);
      assert.equal(Number(bucket.tokens), 6);
      assert.ok(Number(bucket.ts) > 0);
      // 4 tokens at 0.001 per second: full again in 4,000 s
      const ttl = await admin.pttl(key);
      assert.ok(ttl > 3_000_000 && ttl <= 4_000_000, `PTTL ${ttl}`);

      await subject.take("user-2", { capacity: 2, refillPerSecond: 20 });
      await waitFor("the refilled bucket's key to expire", async () =>
        (await admin.exists(keys.rateBucket("user-2"))) === 0 ? true : undefined,
      );
    } finally {
      await dropNamespace(admin, keys);
      await subject.close();
    }
  });
});

describe("RedisRateLimiter while Redis is down", () => {
  let redis: OwnPart;
  before(async () => {
    redis = await OwnPart.start("redis");
  });
  after(async () => {
    await redis.stop();
  });

  it("keeps allowing sends up to the limit in this process, refuses beyond it, reports the outage once, and returns to Redis", async () => {
    const keys = freshKeys();
    const events: string[] = [];
    let local = 0;
    const limiter = RedisRateLimiter.connect(redis.url, {
      namespace: keys.namespace,
      probeAfterMs: 100,
      outage: {
        down: () => events.push("down"),
        up: () => events.push("up"),
        local: () => {
          local++;
        },
      },
    });
    const admin = new Redis(redis.url, boundedRedisOptions());
    const spec = { capacity: 5, refillPerSecond: 0.001 };
    try {
      assert.equal((await limiter.take("user-1", spec)).allowed, true);
      assert.equal(await admin.exists(keys.rateBucket("user-1")), 1, "decided in Redis");
      await closeClient(admin);

      await redis.down();
      const during: boolean[] = [];
      for (let i = 0; i < 8; i++) during.push((await limiter.take("user-2", spec)).allowed);
      // the local bucket has the same parameters: the burst of 5, then refusals
      assert.deepEqual(during, [true, true, true, true, true, false, false, false]);
      const refused = await limiter.take("user-2", spec);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterMs > 0);
      assert.equal(limiter.degraded, true);
      assert.deepEqual(events, ["down"], "the outage is reported once");
      assert.equal(local, 9);

      await redis.up();
      await waitFor(
        "the limiter to use Redis again",
        async () => {
          await limiter.take("user-3", spec);
          return events.includes("up") ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      assert.deepEqual(events, ["down", "up"]);
      assert.equal(limiter.degraded, false);
      const back = new Redis(redis.url, boundedRedisOptions());
      try {
        assert.equal((await limiter.take("user-4", spec)).allowed, true);
        assert.equal(await back.exists(keys.rateBucket("user-4")), 1, "decided in Redis again");
      } finally {
        await closeClient(back);
      }
    } finally {
      await closeClient(admin);
      await limiter.close();
    }
  });
});
