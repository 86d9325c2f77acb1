// RateLimiter in Redis: a token bucket per key, a hash {tokens, ts} at `<ns>rl:<key>`, taken
// from by one Lua script so the read, refill and write are atomic. The script reads the Redis
// server's own clock (TIME), so every gateway pod agrees on it whatever its own clock says,
// and sets PEXPIRE to the moment the bucket is full again: a full bucket and no key are the
// same state. A denied take writes nothing. docs/decisions/0005.
//
// A Redis that does not answer (stopped, failing over, timed out) does not stop sending: the
// limiter falls back to a token bucket in this process with the same parameters, so during an
// outage each of N gateway pods allows the full rate (up to N times the limit across the
// cluster). It reports the outage once when it starts and once when Redis answers again, and
// asks Redis whether it is back (PING) at most one ask at a time, every `probeAfterMs`, in the
// background: no take waits for a Redis that is down, beyond the one that found it down.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { MemoryRateLimiter } from "./rate-limiter.memory.ts";
import type { BucketSpec, RateDecision, RateLimiter } from "./rate-limiter.ts";
import {
  assertBounded,
  assertConnected,
  boundedRedisOptions,
  closeClient,
  pingRedis,
  type RedisClientSettings,
  type RedisKeys,
  redisKeys,
} from "./redis-keys.ts";

/** What the limiter tells about a Redis outage (logs and metrics are the caller's). */
export interface RateLimiterOutage {
  /** Redis did not answer: decisions are taken in this process until it does */
  down(err: unknown): void;
  /** Redis answers again: decisions are shared again */
  up(): void;
  /** one decision taken in this process */
  local(): void;
}

export interface RedisRateLimiterOptions {
  /** key prefix of the ChatCluster, e.g. `sb:<cluster>:` */
  readonly namespace: string;
  /** after Redis failed, how long decisions stay local before Redis is asked again (1 s) */
  readonly probeAfterMs?: number;
  readonly outage?: RateLimiterOutage;
}

// KEYS[1] bucket; ARGV capacity, refill per second, cost. Returns {allowed, remaining, retryAfterMs}.
// The arithmetic is MemoryRateLimiter's, step for step (epsilon: float slack, so that waiting
// retryAfterMs is always enough).
const takeScript = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local epsilon = 1e-9
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = capacity
local saved, ts = tonumber(state[1]), tonumber(state[2])
if saved ~= nil and ts ~= nil then
  tokens = math.min(capacity, saved + (math.max(0, now - ts) * rate) / 1000)
end
if tokens + epsilon < cost then
  local retry = math.max(1, math.ceil(((cost - tokens) * 1000) / rate - epsilon))
  return {0, math.floor(tokens), retry}
end
tokens = math.max(0, tokens - cost)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(((capacity - tokens) * 1000) / rate)))
return {1, math.floor(tokens), 0}
`;
const takeSha = createHash("sha1").update(takeScript).digest("hex");

export class RedisRateLimiter implements RateLimiter {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #local = new MemoryRateLimiter();
  readonly #probeAfterMs: number;
  readonly #outage: RateLimiterOutage | undefined;
  /** Redis failed and has not answered since */
  #down = false;
  /** until then (performance.now()), Redis is not asked whether it is back */
  #localUntil = 0;
  /** an ask whether Redis is back is under way */
  #probing = false;

  /**
   * Connects a client of its own with bounded options; close() quits it. The client
   * auto-pipelines: the takes asked within one turn of the event loop (a gateway's sends arrive
   * from many sockets at once) go to Redis in one write, each script call still run whole and
   * alone there, so every decision is the one it would be by itself.
   */
  static connect(
    url: string,
    options: RedisRateLimiterOptions & RedisClientSettings,
  ): RedisRateLimiter {
    return new RedisRateLimiter(
      new Redis(url, { ...boundedRedisOptions(options), enableAutoPipelining: true }),
      options,
    );
  }

  /** Takes ownership of `client` (close() quits it), which must have bounded options. */
  constructor(client: Redis, options: RedisRateLimiterOptions) {
    assertBounded(client);
    // a lost connection surfaces as failed commands, reported through `outage`
    client.on("error", () => {});
    this.#client = client;
    this.#keys = redisKeys(options.namespace);
    this.#probeAfterMs = options.probeAfterMs ?? 1_000;
    this.#outage = options.outage;
  }

  /** true while Redis is not answering and decisions are taken in this process */
  get degraded(): boolean {
    return this.#down;
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<RateDecision> {
    checkRequest(spec, cost);
    if (this.#down) {
      this.#probe();
      return this.#takeLocally(key, spec, cost);
    }
    try {
      return await this.#takeInRedis(key, spec, cost);
    } catch (err) {
      if (!this.#down) {
        this.#down = true;
        this.#localUntil = performance.now() + this.#probeAfterMs;
        this.#outage?.down(err);
      }
      return this.#takeLocally(key, spec, cost);
    }
  }

  /** While Redis is down: asks whether it is back, in the background, one ask at a time. */
  #probe(): void {
    if (this.#probing || performance.now() < this.#localUntil) return;
    this.#probing = true;
    pingRedis(this.#client)
      .then(
        () => {
          if (!this.#down) return;
          this.#down = false;
          this.#outage?.up();
        },
        () => {
          this.#localUntil = performance.now() + this.#probeAfterMs;
        },
      )
      .finally(() => {
        this.#probing = false;
      });
  }

  close(): Promise<void> {
    return closeClient(this.#client);
  }

  #takeLocally(key: string, spec: BucketSpec, cost: number): Promise<RateDecision> {
    this.#outage?.local();
    return this.#local.take(key, spec, cost);
  }

  async #takeInRedis(key: string, spec: BucketSpec, cost: number): Promise<RateDecision> {
    assertConnected(this.#client);
    const reply = await this.#run(this.#keys.rateBucket(key), [
      spec.capacity,
      spec.refillPerSecond,
      cost,
    ]);
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every(Number.isInteger)) {
      throw new Error(`unexpected reply from the rate limiter script: ${JSON.stringify(reply)}`);
    }
    const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  /** EVALSHA, and once, when the server does not hold the script yet, EVAL (which caches it). */
  async #run(key: string, args: number[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(takeSha, 1, key, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
      return await this.#client.eval(takeScript, 1, key, ...args);
    }
  }
}

/** Capacity and refill must be positive, and cost positive and at most the capacity. */
function checkRequest(spec: BucketSpec, cost: number): void {
  const positive = (n: number) => Number.isFinite(n) && n > 0;
  if (!positive(spec.capacity) || !positive(spec.refillPerSecond)) {
    throw new RangeError(
      `a bucket needs a positive capacity and refillPerSecond, got ${JSON.stringify(spec)}`,
    );
  }
  if (!positive(cost) || cost > spec.capacity) {
    throw new RangeError(`cost must be positive and at most the capacity, got ${cost}`);
  }
}
