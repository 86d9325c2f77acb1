// The per-user (or per-address) token bucket every request takes from, on WebSocket and REST
// alike. The Redis limiter decides in the process when Redis does not answer; a limiter that
// fails all the same is a retriable UNAVAILABLE, logged with its cause, never INTERNAL.
import type { BucketSpec } from "../../shared/backends/rate-limiter.ts";
import { ChatError, UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import type { GatewayContext } from "./context.ts";

/** Takes one token from `key`'s bucket: RATE_LIMITED when empty, UNAVAILABLE when unknown. */
export async function takeToken(ctx: GatewayContext, key: string, spec: BucketSpec): Promise<void> {
  let allowed: boolean;
  let retryAfterMs: number;
  try {
    ({ allowed, retryAfterMs } = await ctx.limiter.take(key, spec));
  } catch (err) {
    ctx.log.warn({ err, key }, "rate limiter failed");
    throw new ChatError("UNAVAILABLE", "the rate limiter did not answer in time; retry", {
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  if (!allowed) throw new ChatError("RATE_LIMITED", "slow down", { retryAfterMs });
}
