// The gateway's own settings, from the environment.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EnvReader } from "#contract/env";
import { readOptional, readSetting, SETTINGS } from "#contract/settings";
import type { S3ObjectStoreOptions } from "../shared/backends/object-store.s3.ts";
import { readListen } from "../shared/settings.ts";
import type { KdfParams } from "./auth/passwords.ts";
import type { SignOnSettings } from "./auth/sign-on.ts";
import type { TokenConfig } from "./auth/tokens.ts";
import type { GatewayLimits } from "./core/context.ts";
import { parseContentTypes, type UploadLimits } from "./core/uploads.ts";

export interface GatewaySettings {
  readonly port: number;
  readonly host: string;
  /** unique per process: the address the forwarder delivers to */
  readonly gatewayId: string;
  readonly tokens: TokenConfig;
  readonly kdf: KdfParams;
  readonly limits: GatewayLimits;
  readonly drainTimeoutMs: number;
  /** the server API's keys (SERVER_API_KEYS); empty: the server API is off */
  readonly serverApiKeys: readonly string[];
  /** single sign-on (OIDC_*); undefined: off */
  readonly signOn: SignOnSettings | undefined;
  /** the S3-compatible store of uploads; undefined (no OBJECT_STORE_ENDPOINT): uploads are off */
  readonly objectStore: S3ObjectStoreOptions | undefined;
  readonly uploadLimits: UploadLimits;
}

const S = SETTINGS;

/** The limits when the environment sets none; the embedded default and docs/protocol.md use them. */
export const DEFAULT_LIMITS: GatewayLimits = {
  maxFrameBytes: S.wsMaxFrameBytes.default,
  maxBufferedBytes: S.wsMaxBufferedBytes.default,
  heartbeatMs: S.wsHeartbeatMs.default,
  ackTimeoutMs: S.wsAckTimeoutMs.default,
  registryTtlMs: S.registryTtlMs.default,
  userRate: { capacity: S.rateLimitBurst.default, refillPerSecond: S.rateLimitPerSecond.default },
  anonymousRate: {
    capacity: S.anonRateLimitBurst.default,
    refillPerSecond: S.anonRateLimitPerSecond.default,
  },
  serverRate: {
    capacity: S.serverApiRateLimitBurst.default,
    refillPerSecond: S.serverApiRateLimitPerSecond.default,
  },
  maxRoomMembers: S.maxRoomMembers.default,
};

/** The environment variable that sets each limit (docs/protocol.md names them). */
export const LIMIT_ENV = {
  maxFrameBytes: S.wsMaxFrameBytes.name,
  maxBufferedBytes: S.wsMaxBufferedBytes.name,
  heartbeatMs: S.wsHeartbeatMs.name,
  ackTimeoutMs: S.wsAckTimeoutMs.name,
  registryTtlMs: S.registryTtlMs.name,
  userRateCapacity: S.rateLimitBurst.name,
  userRateRefill: S.rateLimitPerSecond.name,
  anonymousRateCapacity: S.anonRateLimitBurst.name,
  anonymousRateRefill: S.anonRateLimitPerSecond.name,
  serverRateCapacity: S.serverApiRateLimitBurst.name,
  serverRateRefill: S.serverApiRateLimitPerSecond.name,
  maxRoomMembers: S.maxRoomMembers.name,
} as const;

/** The upload limits when the environment sets none (the embedded default uses them). */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  maxBytes: S.uploadMaxBytes.default,
  contentTypes: parseContentTypes(S.uploadContentTypes.default as string),
  uploadUrlTtlSeconds: S.uploadUrlTtlSeconds.default,
  downloadUrlTtlSeconds: S.downloadUrlTtlSeconds.default,
  rate: {
    capacity: S.uploadRateLimitBurst.default,
    refillPerSecond: S.uploadRateLimitPerSecond.default,
  },
};

function readUploadLimits(env: EnvReader): UploadLimits {
  const raw = readSetting(env, S.uploadContentTypes);
  let contentTypes = DEFAULT_UPLOAD_LIMITS.contentTypes;
  try {
    contentTypes = parseContentTypes(raw);
  } catch (err) {
    env.problem(`${S.uploadContentTypes.name}: ${(err as Error).message}`);
  }
  return {
    maxBytes: readSetting(env, S.uploadMaxBytes),
    contentTypes,
    uploadUrlTtlSeconds: readSetting(env, S.uploadUrlTtlSeconds),
    downloadUrlTtlSeconds: readSetting(env, S.downloadUrlTtlSeconds),
    rate: {
      capacity: readSetting(env, S.uploadRateLimitBurst),
      refillPerSecond: readSetting(env, S.uploadRateLimitPerSecond),
    },
  };
}

/** The object store's settings, when OBJECT_STORE_ENDPOINT names one; its keys are then required. */
function readObjectStore(env: EnvReader): S3ObjectStoreOptions | undefined {
  const endpoint = readOptional(env, S.objectStoreEndpoint);
  const bucket = readSetting(env, S.objectStoreBucket);
  const region = readSetting(env, S.objectStoreRegion);
  const forcePathStyle = readSetting(env, S.objectStoreForcePathStyle) === "true";
  const accessKeyId = readOptional(env, S.objectStoreAccessKeyId);
  const secretAccessKey = readOptional(env, S.objectStoreSecretAccessKey);
  if (endpoint === undefined) return undefined;
  if (!/^https?:\/\/[^/]+/.test(endpoint)) {
    env.problem(
      `${S.objectStoreEndpoint.name} must be an http(s) URL, got '${endpoint.slice(0, 40)}'`,
    );
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    env.problem(
      `${S.objectStoreEndpoint.name} is set: ${S.objectStoreAccessKeyId.name} and ${S.objectStoreSecretAccessKey.name} are required too`,
    );
    return undefined;
  }
  return { endpoint, bucket, region, forcePathStyle, accessKeyId, secretAccessKey };
}

/**
 * `embedded` allows a generated JWT secret (tokens then die with the process); a deployed
 * gateway must be given JWT_SECRET, which every gateway pod shares.
 */
export function readGatewaySettings(env: EnvReader, opts: { embedded: boolean }): GatewaySettings {
  const secret = opts.embedded
    ? (readOptional(env, { ...S.jwtSecret, kind: "optional" }) ??
      randomBytes(32).toString("base64url"))
    : readSetting(env, S.jwtSecret);
  return {
    ...readListen(env, "gateway", opts.embedded ? "127.0.0.1" : "0.0.0.0"),
    gatewayId: readSetting(
      env,
      S.gatewayId,
      `${readOptional(env, S.podName) ?? hostname()}-${randomBytes(3).toString("hex")}`,
    ),
    tokens: {
      secret: new TextEncoder().encode(secret),
      issuer: readSetting(env, S.jwtIssuer),
      accessTtlSeconds: readSetting(env, S.accessTokenTtlSeconds),
      refreshTtlSeconds: readSetting(env, S.refreshTokenTtlSeconds),
    },
    kdf: {
      memory: readSetting(env, S.passwordKdfMemoryKib),
      passes: readSetting(env, S.passwordKdfPasses),
      parallelism: 1,
    },
    limits: {
      maxFrameBytes: readSetting(env, S.wsMaxFrameBytes),
      maxBufferedBytes: readSetting(env, S.wsMaxBufferedBytes),
      heartbeatMs: readSetting(env, S.wsHeartbeatMs),
      ackTimeoutMs: readSetting(env, S.wsAckTimeoutMs),
      registryTtlMs: readSetting(env, S.registryTtlMs),
      userRate: {
        capacity: readSetting(env, S.rateLimitBurst),
        refillPerSecond: readSetting(env, S.rateLimitPerSecond),
      },
      anonymousRate: {
        capacity: readSetting(env, S.anonRateLimitBurst),
        refillPerSecond: readSetting(env, S.anonRateLimitPerSecond),
      },
      serverRate: {
        capacity: readSetting(env, S.serverApiRateLimitBurst),
        refillPerSecond: readSetting(env, S.serverApiRateLimitPerSecond),
      },
      maxRoomMembers: readSetting(env, S.maxRoomMembers),
    },
    drainTimeoutMs: readSetting(env, S.drainTimeoutMs),
    serverApiKeys: readSetting(env, S.serverApiKeys),
    signOn: readSignOn(env),
    objectStore: readObjectStore(env),
    uploadLimits: readUploadLimits(env),
  };
}

/** OIDC_*: all or nothing of issuer, client id and redirect URL; every one is always read. */
export function readSignOn(env: EnvReader): SignOnSettings | undefined {
  const issuer = readOptional(env, S.oidcIssuerUrl);
  const clientId = readOptional(env, S.oidcClientId);
  const clientSecret = readOptional(env, S.oidcClientSecret);
  const redirect = readOptional(env, S.oidcRedirectUrl);
  const scopes = readSetting(env, S.oidcScopes);
  const providerName = readSetting(env, S.oidcProviderName);
  const providerLogout = readSetting(env, S.oidcProviderLogout) === "true";
  const postLogout = readOptional(env, S.oidcPostLogoutRedirectUrl);
  if (issuer === undefined && clientId === undefined && redirect === undefined) return undefined;
  const needed = {
    [S.oidcIssuerUrl.name]: issuer,
    [S.oidcClientId.name]: clientId,
    [S.oidcRedirectUrl.name]: redirect,
  };
  const missing = Object.entries(needed)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) {
    env.problem(
      `single sign-on needs ${Object.keys(needed).join(", ")} together; missing: ${missing.join(", ")}`,
    );
    return undefined;
  }
  const issuerUrl = httpUrl(env, S.oidcIssuerUrl.name, issuer as string);
  const redirectUrl = httpUrl(env, S.oidcRedirectUrl.name, redirect as string);
  const postLogoutUrl =
    postLogout === undefined
      ? undefined
      : httpUrl(env, S.oidcPostLogoutRedirectUrl.name, postLogout);
  if (!scopes.split(/\s+/).includes("openid")) {
    env.problem(`${S.oidcScopes.name} must include openid, got '${scopes.slice(0, 80)}'`);
  }
  if (issuerUrl === undefined || redirectUrl === undefined) return undefined;
  if (postLogout !== undefined && postLogoutUrl === undefined) return undefined;
  return {
    issuer: issuerUrl,
    clientId: clientId as string,
    clientSecret,
    redirectUrl,
    scopes,
    providerName: providerName.slice(0, 64),
    providerLogout,
    // the web client, which the gateways serve at /
    postLogoutRedirectUrl: postLogoutUrl ?? new URL("/", redirectUrl),
  };
}

function httpUrl(env: EnvReader, name: string, raw: string): URL | undefined {
  const url = URL.parse(raw);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:") || url.hash !== "") {
    env.problem(`${name} must be an http(s) URL without a fragment, got '${raw.slice(0, 80)}'`);
    return undefined;
  }
  return url;
}
