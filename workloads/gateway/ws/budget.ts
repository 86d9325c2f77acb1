// A token bucket kept by one socket, for what must not cost a shared backend call: how many
// invalid frames a connection may send before it is closed. Synchronous, on an injectable clock.
import type { BucketSpec } from "../../shared/backends/rate-limiter.ts";

export class LocalBucket {
  readonly #spec: BucketSpec;
  readonly #now: () => number;
  #tokens: number;
  #ts: number;

  constructor(spec: BucketSpec, now: () => number = performance.now.bind(performance)) {
    if (!(spec.capacity > 0 && spec.refillPerSecond > 0)) {
      throw new RangeError(
        `a bucket needs a positive capacity and refill: ${JSON.stringify(spec)}`,
      );
    }
    this.#spec = spec;
    this.#now = now;
    this.#tokens = spec.capacity;
    this.#ts = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now();
    const { capacity, refillPerSecond } = this.#spec;
    this.#tokens = Math.min(capacity, this.#tokens + ((now - this.#ts) * refillPerSecond) / 1000);
    this.#ts = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
