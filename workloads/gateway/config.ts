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

/**
 * `embedded` allows a generated JWT secret (tokens then die with the process); a deployed
 * gateway must be given JWT_SECRET, which every gateway pod shares.
 */
export function readGatewaySettings(env: EnvReader, opts: { embedded: boolean }): GatewaySettings {
  const secret = opts.embedded
    ? (env.optional("JWT_SECRET") ?? randomBytes(32).toString("base64url"))
    : env.secret("JWT_SECRET", 32);
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
      maxFrameBytes: env.int("WS_MAX_FRAME_BYTES", 16 * 1024, { min: 1024, max: 1024 * 1024 }),
      maxBufferedBytes: env.int("WS_MAX_BUFFERED_BYTES", 1024 * 1024, { min: 16 * 1024 }),
      heartbeatMs: env.int("WS_HEARTBEAT_MS", 30_000, { min: 100 }),
      registryTtlMs: env.int("REGISTRY_TTL_MS", 30_000, { min: 1000 }),
      userRate: {
        capacity: env.int("RATE_LIMIT_BURST", 50, { min: 1 }),
        refillPerSecond: env.number("RATE_LIMIT_PER_SECOND", 20, { min: 0.001 }),
      },
      anonymousRate: {
        capacity: env.int("ANON_RATE_LIMIT_BURST", 20, { min: 1 }),
        refillPerSecond: env.number("ANON_RATE_LIMIT_PER_SECOND", 5, { min: 0.001 }),
      },
      maxRoomMembers: env.int("MAX_ROOM_MEMBERS", 10_000, { min: 2 }),
    },
    drainTimeoutMs: env.int("DRAIN_TIMEOUT_MS", 10_000, { min: 0 }),
  };
}
