// The matcher's own settings, from the environment (beside readSharedSettings), and their
// defaults, which the embedded default uses too.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EnvReader } from "../shared/config.ts";
import type { MatcherSettings } from "./matcher.ts";

export const matcherDefaults: Omit<MatcherSettings, "workerId"> = {
  fallbackWaitMs: 10_000,
  pairIntervalMs: 100,
  leaseMs: 15_000,
  scanLimit: 200,
  handoverConcurrency: 16,
};

export function readMatcherSettings(env: EnvReader): MatcherSettings {
  const d = matcherDefaults;
  return {
    workerId: env.string(
      "MATCHER_ID",
      `${env.optional("POD_NAME") ?? hostname()}-${randomBytes(3).toString("hex")}`,
    ),
    fallbackWaitMs: env.int("MATCH_FALLBACK_WAIT_MS", d.fallbackWaitMs, { min: 0, max: 3_600_000 }),
    pairIntervalMs: env.int("MATCH_PAIR_INTERVAL_MS", d.pairIntervalMs, { min: 10, max: 60_000 }),
    leaseMs: env.int("MATCH_LEASE_MS", d.leaseMs, { min: 500, max: 600_000 }),
    scanLimit: env.int("MATCH_SCAN_LIMIT", d.scanLimit, { min: 2, max: 10_000 }),
    handoverConcurrency: env.int("MATCH_HANDOVER_CONCURRENCY", d.handoverConcurrency, {
      min: 1,
      max: 256,
    }),
  };
}
