import { rateLimiterContract } from "./rate-limiter.contract.ts";
import { MemoryRateLimiter } from "./rate-limiter.memory.ts";

rateLimiterContract("memory", async () => {
  let now = 1_700_000_000_000;
  const subject = new MemoryRateLimiter({ now: () => now });
  return {
    subject,
    clock: {
      advance: (ms) => {
        now += ms;
      },
    },
    cleanup: () => subject.close(),
  };
});
