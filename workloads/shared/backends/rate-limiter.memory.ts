// RateLimiter in memory, for the embedded default: the token bucket of the Redis adapter's Lua
// script, the same arithmetic in the same order, on an injectable clock.
import type { BucketSpec, RateDecision, RateLimiter } from "./rate-limiter.ts";

export interface MemoryRateLimiterOptions {
  /** the clock, in ms; tests inject one to refill without waiting */
  readonly now?: () => number;
}

interface Bucket {
  readonly tokens: number;
  /** when `tokens` was computed */
  readonly ts: number;
  /** when the bucket is full again and can be forgotten */
  readonly fullAt: number;
}

/** every this many takes, buckets that are full again are forgotten */
const sweepEvery = 1024;
/** float slack, so that waiting `retryAfterMs` is always enough */
const epsilon = 1e-9;

export class MemoryRateLimiter implements RateLimiter {
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #takes = 0;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<RateDecision> {
    checkRequest(spec, cost);
    const { capacity, refillPerSecond: rate } = spec;
    const now = this.#now();
    this.#sweep(now);
    const bucket = this.#buckets.get(key);
    let tokens = capacity;
    if (bucket !== undefined && bucket.fullAt > now) {
      tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.ts) * rate) / 1000);
    }
    if (tokens + epsilon < cost) {
      const retryAfterMs = Math.max(1, Math.ceil(((cost - tokens) * 1000) / rate - epsilon));
      return { allowed: false, remaining: Math.floor(tokens), retryAfterMs };
    }
    tokens = Math.max(0, tokens - cost);
    const fullAt = now + Math.max(1, Math.ceil(((capacity - tokens) * 1000) / rate));
    this.#buckets.set(key, { tokens, ts: now, fullAt });
    return { allowed: true, remaining: Math.floor(tokens), retryAfterMs: 0 };
  }

  async close(): Promise<void> {
    this.#buckets.clear();
  }

  #sweep(now: number): void {
    this.#takes += 1;
    if (this.#takes % sweepEvery !== 0) return;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.fullAt <= now) this.#buckets.delete(key);
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
