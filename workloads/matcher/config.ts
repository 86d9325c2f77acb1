// The matcher's own settings, from the environment (beside readSharedSettings), and their
// defaults, which the embedded default uses too.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EnvReader } from "#contract/env";
import { readOptional, readSetting, SETTINGS } from "#contract/settings";
import type { MatcherSettings } from "./matcher.ts";

const S = SETTINGS;

export const matcherDefaults: Omit<MatcherSettings, "workerId"> = {
  fallbackWaitMs: S.matchFallbackWaitMs.default,
  pairIntervalMs: S.matchPairIntervalMs.default,
  leaseMs: S.matchLeaseMs.default,
  scanLimit: S.matchScanLimit.default,
  handoverConcurrency: S.matchHandoverConcurrency.default,
};

export function readMatcherSettings(env: EnvReader): MatcherSettings {
  return {
    workerId: readSetting(
      env,
      S.matcherId,
      `${readOptional(env, S.podName) ?? hostname()}-${randomBytes(3).toString("hex")}`,
    ),
    fallbackWaitMs: readSetting(env, S.matchFallbackWaitMs),
    pairIntervalMs: readSetting(env, S.matchPairIntervalMs),
    leaseMs: readSetting(env, S.matchLeaseMs),
    scanLimit: readSetting(env, S.matchScanLimit),
    handoverConcurrency: readSetting(env, S.matchHandoverConcurrency),
  };
}
