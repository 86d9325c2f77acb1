// RateLimiter: one token bucket per key, shared by every gateway pod (Redis) so a user's
// budget is the same whichever pod they reach, on WebSocket and REST alike.

export interface RateDecision {
  readonly allowed: boolean;
  /** tokens left after this request */
  readonly remaining: number;
  /** when not allowed: how long until `cost` tokens are available */
  readonly retryAfterMs: number;
}

export interface BucketSpec {
  /** the most tokens the bucket holds (the burst) */
  readonly capacity: number;
  /** tokens added per second */
  readonly refillPerSecond: number;
}

export interface RateLimiter {
  take(key: string, spec: BucketSpec, cost?: number): Promise<RateDecision>;
  close(): Promise<void>;
}
