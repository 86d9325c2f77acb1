// Smoke suite: the real Redis that hack/stack starts answers ioredis, including Lua.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { redisUrl, uniqueName } from "../testkit/index.ts";

describe("redis (real server)", () => {
  let redis: Redis;
  const prefix = `${uniqueName("smoke")}:`;

  before(async () => {
    redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
  });

  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("stores and returns a value with a TTL", async () => {
    await redis.set(`${prefix}greeting`, "hello", "EX", 60);
    assert.equal(await redis.get(`${prefix}greeting`), "hello");
    const ttl = await redis.ttl(`${prefix}greeting`);
    assert.ok(ttl > 0 && ttl <= 60, `ttl was ${ttl}`);
  });

  it("runs a Lua script atomically: a bounded counter refuses past its limit", async () => {
    redis.defineCommand("boundedIncr", {
      numberOfKeys: 1,
      lua: `
        local v = tonumber(redis.call('GET', KEYS[1]) or '0')
        if v >= tonumber(ARGV[1]) then return -1 end
        return redis.call('INCR', KEYS[1])`,
    });
    const key = `${prefix}bounded`;
    const call = (): Promise<number> =>
      (redis as unknown as { boundedIncr(k: string, limit: number): Promise<number> }).boundedIncr(
        key,
        3,
      );
    const results = await Promise.all([call(), call(), call(), call(), call()]);
    assert.deepEqual(
      results.toSorted((a, b) => a - b),
      [-1, -1, 1, 2, 3],
    );
    assert.equal(await redis.get(key), "3");
  });

  it("delivers a published message to a subscriber", async () => {
    const sub = redis.duplicate();
    const channel = `${prefix}chan`;
    try {
      await sub.subscribe(channel);
      const received = new Promise<string>((resolve) =>
        sub.once("message", (_c: string, m: string) => resolve(m)),
      );
      assert.equal(await redis.publish(channel, "ping"), 1);
      assert.equal(await received, "ping");
    } finally {
      sub.disconnect();
    }
  });
});
