// The gateway's own settings, from the environment.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EnvReader } from "../shared/config.ts";
import type { KdfParams } from "./auth/passwords.ts";
import type { TokenConfig } from "./auth/tokens.ts";
import type { GatewayLimits } from "./core/context.ts";

export interface GatewaySettings {
  readonly port: number;
  readonly host: string;
  /** unique per process: the address the forwarder delivers to */
  readonly gatewayId: string;
  readonly tokens: TokenConfig;
  readonly kdf: KdfParams;
  readonly limits: GatewayLimits;
  readonly drainTimeoutMs: number;
}

/** The limits when the environment sets none; the embedded default and docs/protocol.md use them. */
export const DEFAULT_LIMITS: GatewayLimits = {
  maxFrameBytes: 16 * 1024,
  maxBufferedBytes: 1024 * 1024,
  heartbeatMs: 30_000,
  ackTimeoutMs: 120_000,
  registryTtlMs: 30_000,
  userRate: { capacity: 50, refillPerSecond: 20 },
  anonymousRate: { capacity: 20, refillPerSecond: 5 },
  maxRoomMembers: 10_000,
};

/** The environment variable that sets each limit. */
export const LIMIT_ENV = {
  maxFrameBytes: "WS_MAX_FRAME_BYTES",
  maxBufferedBytes: "WS_MAX_BUFFERED_BYTES",
  heartbeatMs: "WS_HEARTBEAT_MS",
  ackTimeoutMs: "WS_ACK_TIMEOUT_MS",
  registryTtlMs: "REGISTRY_TTL_MS",
  userRateCapacity: "RATE_LIMIT_BURST",
  userRateRefill: "RATE_LIMIT_PER_SECOND",
  anonymousRateCapacity: "ANON_RATE_LIMIT_BURST",
  anonymousRateRefill: "ANON_RATE_LIMIT_PER_SECOND",
  maxRoomMembers: "MAX_ROOM_MEMBERS",
} as const;

/**
 * `embedded` allows a generated JWT secret (tokens then die with the process); a deployed
 * gateway must be given JWT_SECRET, which every gateway pod shares.
 */
export function readGatewaySettings(env: EnvReader, opts: { embedded: boolean }): GatewaySettings {
  const secret = opts.embedded
    ? (env.optional("JWT_SECRET") ?? randomBytes(32).toString("base64url"))
    : env.secret("JWT_SECRET", 32);
  const d = DEFAULT_LIMITS;
  return {
    port: env.int("PORT", 8080, { min: 0, max: 65535 }),
    host: env.string("HOST", opts.embedded ? "127.0.0.1" : "0.0.0.0"),
    gatewayId: env.string(
      "GATEWAY_ID",
      `${env.optional("POD_NAME") ?? hostname()}-${randomBytes(3).toString("hex")}`,
    ),
    tokens: {
      secret: new TextEncoder().encode(secret),
      issuer: env.string("JWT_ISSUER", "switchboard"),
      accessTtlSeconds: env.int("ACCESS_TOKEN_TTL_SECONDS", 900, { min: 10, max: 86_400 }),
      refreshTtlSeconds: env.int("REFRESH_TOKEN_TTL_SECONDS", 30 * 86_400, {
        min: 60,
        max: 365 * 86_400,
      }),
    },
    kdf: {
      memory: env.int("PASSWORD_KDF_MEMORY_KIB", 19_456, { min: 1024, max: 1_048_576 }),
      passes: env.int("PASSWORD_KDF_PASSES", 2, { min: 1, max: 10 }),
      parallelism: 1,
    },
    limits: {
      maxFrameBytes: env.int(LIMIT_ENV.maxFrameBytes, d.maxFrameBytes, {
        min: 1024,
        max: 1024 * 1024,
      }),
      maxBufferedBytes: env.int(LIMIT_ENV.maxBufferedBytes, d.maxBufferedBytes, {
        min: 16 * 1024,
      }),
      heartbeatMs: env.int(LIMIT_ENV.heartbeatMs, d.heartbeatMs, { min: 100 }),
      ackTimeoutMs: env.int(LIMIT_ENV.ackTimeoutMs, d.ackTimeoutMs, { min: 1000 }),
      registryTtlMs: env.int(LIMIT_ENV.registryTtlMs, d.registryTtlMs, { min: 1000 }),
      userRate: {
        capacity: env.int(LIMIT_ENV.userRateCapacity, d.userRate.capacity, { min: 1 }),
        refillPerSecond: env.number(LIMIT_ENV.userRateRefill, d.userRate.refillPerSecond, {
          min: 0.001,
        }),
      },
      anonymousRate: {
        capacity: env.int(LIMIT_ENV.anonymousRateCapacity, d.anonymousRate.capacity, { min: 1 }),
        refillPerSecond: env.number(
          LIMIT_ENV.anonymousRateRefill,
          d.anonymousRate.refillPerSecond,
          { min: 0.001 },
        ),
      },
      maxRoomMembers: env.int(LIMIT_ENV.maxRoomMembers, d.maxRoomMembers, { min: 2 }),
    },
    drainTimeoutMs: env.int("DRAIN_TIMEOUT_MS", 10_000, { min: 0 }),
  };
}
