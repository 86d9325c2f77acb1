// The contract between the operator and the workloads: every setting a workload reads from its
// environment (name, type, default, bounds, which workloads read it), the workloads image's
// commands, ports and probe paths, and the naming rules of topics, keyspaces and Redis keys.
// The workloads' config readers read through these definitions (readSetting) and the operator's
// builders write through them (settingValue), so a name exists once; contract.test.ts in
// operator/src/reconcile feeds what the operator builds through the workloads' real readers.
import type { EnvReader } from "./env.ts";

/** The workloads image's commands: `node workloads/main.ts <command>` (the container's args). */
export const WORKLOAD_COMMANDS = [
  "gateway",
  "forwarder",
  "matcher",
  "notifier",
  "migrate",
] as const;
export type WorkloadCommand = (typeof WORKLOAD_COMMANDS)[number];
/** The workloads that run as long-lived Deployments. */
export type Workload = Exclude<WorkloadCommand, "migrate">;

/** The port each workload serves HTTP on (the gateway its API, the others probes and metrics). */
export const WORKLOAD_PORTS: Readonly<Record<Workload, number>> = {
  gateway: 8080,
  forwarder: 8081,
  matcher: 8082,
  notifier: 8083,
};

/** Where every workload answers liveness, readiness and Prometheus. */
export const PROBE_PATHS = { live: "/healthz", ready: "/readyz", metrics: "/metrics" } as const;

/** The workloads image's non-root user. */
export const IMAGE_UID = 10001;

/** The topic of a cluster's chat events, from its topic prefix (the cluster's name by default). */
export const messagesTopicOf = (prefix: string): string => `${prefix}.messages`;
/**
 * The topic of a cluster's fallback deliveries, from its topic prefix: every gateway reads it
 * whole while Redis pub/sub does not answer (docs/decisions/0019).
 */
export const deliveriesTopicOf = (prefix: string): string => `${prefix}.deliveries`;
/**
 * The deliveries topic's shape: one partition (one order for every gateway's deliveries, as the
 * one Redis connection gives) and an hour of retention (a gateway reads only what is published
 * while it runs; the hour is for whoever investigates an outage).
 */
export const DELIVERIES_TOPIC = { partitions: 1, retentionMs: 3_600_000 } as const;
/** The keyspace a cluster uses when none is named: its name with '-' as '_'. */
export const defaultKeyspaceOf = (cluster: string): string => cluster.replaceAll("-", "_");
/** The prefix of every Redis key of a cluster. */
export const redisNamespaceOf = (cluster: string): string => `sb:${cluster}:`;
/** The forwarders' consumer group when none is named. */
export const forwarderGroupOf = (cluster: string): string => `${cluster}.forwarder`;
/** The notifiers' consumer group when none is named (docs/decisions/0022). */
export const notifierGroupOf = (cluster: string): string => `${cluster}.notifier`;

interface Base {
  /** the environment variable */
  readonly name: string;
  readonly readBy: readonly WorkloadCommand[];
}
export interface IntSetting<D extends number | undefined = number | undefined> extends Base {
  readonly kind: "int";
  /** undefined: the reader computes it (e.g. per workload) */
  readonly default: D;
  readonly min: number;
  readonly max: number;
}
export interface NumberSetting extends Base {
  readonly kind: "number";
  readonly default: number;
  readonly min: number;
  readonly max: number;
}
export interface StringSetting extends Base {
  readonly kind: "string";
  /** undefined: required, unless the reader computes a default from other settings */
  readonly default: string | undefined;
}
export interface OptionalSetting extends Base {
  readonly kind: "optional";
}
export interface ListSetting extends Base {
  readonly kind: "list";
}
export interface OneOfSetting<T extends string = string> extends Base {
  readonly kind: "oneOf";
  readonly values: readonly T[];
  readonly default: T;
}
export interface SecretSetting extends Base {
  readonly kind: "secret";
  readonly minLength: number;
}
/** a comma- or whitespace-separated list of secrets (several allow rotation); optional */
export interface SecretListSetting extends Base {
  readonly kind: "secretList";
  /** the fewest characters each secret must have */
  readonly minLength: number;
}
export type Setting =
  | SecretListSetting
  | IntSetting
  | NumberSetting
  | StringSetting
  | OptionalSetting
  | ListSetting
  | OneOfSetting
  | SecretSetting;

const RUNTIME = ["gateway", "forwarder", "matcher", "notifier"] as const;
const int = <D extends number | undefined>(
  name: string,
  readBy: readonly WorkloadCommand[],
  d: D,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): IntSetting<D> => ({ kind: "int", name, readBy, default: d, min, max });
const num = (
  name: string,
  readBy: readonly WorkloadCommand[],
  d: number,
  min: number,
  max = Number.MAX_VALUE,
): NumberSetting => ({ kind: "number", name, readBy, default: d, min, max });
const str = (name: string, readBy: readonly WorkloadCommand[], d?: string): StringSetting => ({
  kind: "string",
  name,
  readBy,
  default: d,
});
/** "true" or "false" */
const flag = (
  name: string,
  readBy: readonly WorkloadCommand[],
  d: "true" | "false",
): OneOfSetting<"true" | "false"> => ({
  kind: "oneOf",
  name,
  readBy,
  values: ["true", "false"],
  default: d,
});
const opt = (name: string, readBy: readonly WorkloadCommand[]): OptionalSetting => ({
  kind: "optional",
  name,
  readBy,
});
const list = (name: string, readBy: readonly WorkloadCommand[]): ListSetting => ({
  kind: "list",
  name,
  readBy,
});

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/** Every setting of every workload. Defaults of `undefined` are computed by the reader. */
export const SETTINGS = {
  // which ChatCluster, on which backends (workloads/shared/settings.ts)
  cluster: str("SWITCHBOARD_CLUSTER", RUNTIME, "switchboard"),
  backends: {
    kind: "oneOf",
    name: "SWITCHBOARD_BACKENDS",
    readBy: RUNTIME,
    values: ["memory", "real"],
    default: "real",
  } as OneOfSetting<"memory" | "real">,
  topic: str("SWITCHBOARD_TOPIC", RUNTIME),
  deliveriesTopic: str("SWITCHBOARD_DELIVERIES_TOPIC", RUNTIME),
  kafkaBrokers: list("KAFKA_BROKERS", RUNTIME),
  kafkaClientId: str("KAFKA_CLIENT_ID", RUNTIME),
  kafkaSessionTimeoutMs: int("KAFKA_SESSION_TIMEOUT_MS", RUNTIME, 6_000, 6_000, 300_000),
  cassandraContactPoints: list("CASSANDRA_CONTACT_POINTS", [...RUNTIME, "migrate"]),
  cassandraLocalDc: str("CASSANDRA_LOCAL_DC", [...RUNTIME, "migrate"], "datacenter1"),
  cassandraKeyspace: str("CASSANDRA_KEYSPACE", [...RUNTIME, "migrate"]),
  cassandraReplicationFactor: int("CASSANDRA_REPLICATION_FACTOR", ["migrate"], 1, 1, 99),
  cassandraUsername: opt("CASSANDRA_USERNAME", RUNTIME),
  cassandraPassword: opt("CASSANDRA_PASSWORD", RUNTIME),
  redisUrl: str("REDIS_URL", RUNTIME),
  otlpEndpoint: opt("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", RUNTIME),
  traceSampleRatio: num("OTEL_TRACES_SAMPLER_ARG", RUNTIME, 1, 0, 1),
  logLevel: {
    kind: "oneOf",
    name: "LOG_LEVEL",
    readBy: RUNTIME,
    values: LOG_LEVELS,
    default: "info",
  } as OneOfSetting<(typeof LOG_LEVELS)[number]>,
  // the HTTP listener of each workload (default port: WORKLOAD_PORTS)
  port: int("PORT", RUNTIME, undefined, 0, 65535),
  host: str("HOST", RUNTIME),
  /** the Pod's name (downward API): part of the gateway's and matcher's instance ids */
  podName: opt("POD_NAME", ["gateway", "forwarder", "matcher", "notifier"]),
  // gateway (workloads/gateway/config.ts)
  gatewayId: str("GATEWAY_ID", ["gateway"]),
  jwtSecret: {
    kind: "secret",
    name: "JWT_SECRET",
    readBy: ["gateway"],
    minLength: 32,
  } as SecretSetting,
  jwtIssuer: str("JWT_ISSUER", ["gateway"], "switchboard"),
  accessTokenTtlSeconds: int("ACCESS_TOKEN_TTL_SECONDS", ["gateway"], 900, 10, 86_400),
  refreshTokenTtlSeconds: int(
    "REFRESH_TOKEN_TTL_SECONDS",
    ["gateway"],
    30 * 86_400,
    60,
    365 * 86_400,
  ),
  passwordKdfMemoryKib: int("PASSWORD_KDF_MEMORY_KIB", ["gateway"], 19_456, 1024, 1_048_576),
  passwordKdfPasses: int("PASSWORD_KDF_PASSES", ["gateway"], 2, 1, 10),
  wsMaxFrameBytes: int("WS_MAX_FRAME_BYTES", ["gateway"], 16 * 1024, 1024, 1024 * 1024),
  wsMaxBufferedBytes: int("WS_MAX_BUFFERED_BYTES", ["gateway"], 1024 * 1024, 16 * 1024),
  wsHeartbeatMs: int("WS_HEARTBEAT_MS", ["gateway"], 30_000, 100),
  wsAckTimeoutMs: int("WS_ACK_TIMEOUT_MS", ["gateway"], 120_000, 1000),
  registryTtlMs: int("REGISTRY_TTL_MS", ["gateway"], 30_000, 1000),
  rateLimitBurst: int("RATE_LIMIT_BURST", ["gateway"], 50, 1),
  rateLimitPerSecond: num("RATE_LIMIT_PER_SECOND", ["gateway"], 20, 0.001),
  anonRateLimitBurst: int("ANON_RATE_LIMIT_BURST", ["gateway"], 20, 1),
  anonRateLimitPerSecond: num("ANON_RATE_LIMIT_PER_SECOND", ["gateway"], 5, 0.001),
  maxRoomMembers: int("MAX_ROOM_MEMBERS", ["gateway"], 10_000, 2),
  drainTimeoutMs: int("DRAIN_TIMEOUT_MS", ["gateway"], 10_000, 0),
  /** the server API's keys (docs/server-api.md); none: the server API answers 403 */
  serverApiKeys: {
    kind: "secretList",
    name: "SERVER_API_KEYS",
    readBy: ["gateway"],
    minLength: 32,
  } as SecretListSetting,
  // single sign-on (workloads/gateway/auth/sign-on.ts, docs/decisions/0023): on when the issuer
  // is set, which then needs the client id and the redirect URL too
  oidcIssuerUrl: opt("OIDC_ISSUER_URL", ["gateway"]),
  oidcClientId: opt("OIDC_CLIENT_ID", ["gateway"]),
  /** from a Secret; none: a public client (PKCE alone) */
  oidcClientSecret: opt("OIDC_CLIENT_SECRET", ["gateway"]),
  /** where the provider sends the browser back: <the gateway's public URL>/v1/auth/oidc/callback */
  oidcRedirectUrl: opt("OIDC_REDIRECT_URL", ["gateway"]),
  oidcScopes: str("OIDC_SCOPES", ["gateway"], "openid email profile"),
  /** the web client's button says "Sign in with <this>" */
  oidcProviderName: str("OIDC_PROVIDER_NAME", ["gateway"], "SSO"),
  /** true: signing out of a sign-on's session also ends the provider's (RP-initiated logout) */
  oidcProviderLogout: flag("OIDC_PROVIDER_LOGOUT", ["gateway"], "true"),
  /** where the provider sends the browser after its logout; none: the web client (/) at the
   * redirect URL's origin. Register it at the provider. */
  oidcPostLogoutRedirectUrl: opt("OIDC_POST_LOGOUT_REDIRECT_URL", ["gateway"]),
  serverApiRateLimitBurst: int("SERVER_API_RATE_LIMIT_BURST", ["gateway"], 200, 1),
  serverApiRateLimitPerSecond: num("SERVER_API_RATE_LIMIT_PER_SECOND", ["gateway"], 100, 0.001),
  // uploads (workloads/gateway/config.ts; docs/decisions/0021): no endpoint, uploads are off
  // (the embedded default then keeps objects in memory)
  objectStoreEndpoint: opt("OBJECT_STORE_ENDPOINT", ["gateway"]),
  objectStoreBucket: str("OBJECT_STORE_BUCKET", ["gateway"], "switchboard"),
  objectStoreRegion: str("OBJECT_STORE_REGION", ["gateway"], "us-east-1"),
  objectStoreForcePathStyle: flag("OBJECT_STORE_FORCE_PATH_STYLE", ["gateway"], "true"),
  objectStoreAccessKeyId: opt("OBJECT_STORE_ACCESS_KEY_ID", ["gateway"]),
  objectStoreSecretAccessKey: opt("OBJECT_STORE_SECRET_ACCESS_KEY", ["gateway"]),
  uploadMaxBytes: int("UPLOAD_MAX_BYTES", ["gateway"], 10 * 1024 * 1024, 1, 5 * 1024 ** 3),
  /** media types an upload may have: exact (image/png) or a whole type (image/*), comma-separated */
  uploadContentTypes: str(
    "UPLOAD_CONTENT_TYPES",
    ["gateway"],
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,application/zip",
  ),
  uploadUrlTtlSeconds: int("UPLOAD_URL_TTL_SECONDS", ["gateway"], 300, 1, 3_600),
  downloadUrlTtlSeconds: int("DOWNLOAD_URL_TTL_SECONDS", ["gateway"], 300, 1, 604_800),
  uploadRateLimitBurst: int("UPLOAD_RATE_LIMIT_BURST", ["gateway"], 10, 1),
  uploadRateLimitPerSecond: num("UPLOAD_RATE_LIMIT_PER_SECOND", ["gateway"], 0.2, 0.001),
  // forwarder (workloads/forwarder/config.ts)
  forwarderGroupId: str("FORWARDER_GROUP_ID", ["forwarder"]),
  // notifier (workloads/notifier/config.ts)
  notifierGroupId: str("NOTIFIER_GROUP_ID", ["notifier"]),
  // matcher (workloads/matcher/config.ts)
  matcherId: str("MATCHER_ID", ["matcher"]),
  matchFallbackWaitMs: int("MATCH_FALLBACK_WAIT_MS", ["matcher"], 10_000, 0, 3_600_000),
  matchPairIntervalMs: int("MATCH_PAIR_INTERVAL_MS", ["matcher"], 100, 10, 60_000),
  matchLeaseMs: int("MATCH_LEASE_MS", ["matcher"], 15_000, 500, 600_000),
  matchScanLimit: int("MATCH_SCAN_LIMIT", ["matcher"], 200, 2, 10_000),
  matchHandoverConcurrency: int("MATCH_HANDOVER_CONCURRENCY", ["matcher"], 16, 1, 256),
} as const;

/** Reads one setting through the EnvReader, with its definition's default (or `fallback`). */
export function readSetting(
  env: EnvReader,
  s: IntSetting | NumberSetting,
  fallback?: number,
): number;
export function readSetting(env: EnvReader, s: StringSetting, fallback?: string): string;
export function readSetting<T extends string>(env: EnvReader, s: OneOfSetting<T>): T;
export function readSetting(env: EnvReader, s: SecretSetting): string;
export function readSetting(env: EnvReader, s: SecretListSetting): string[];
export function readSetting(env: EnvReader, s: Setting, fallback?: number | string): unknown {
  switch (s.kind) {
    case "int":
      return env.int(s.name, (fallback as number | undefined) ?? s.default ?? 0, s);
    case "number":
      return env.number(s.name, (fallback as number | undefined) ?? s.default, s);
    case "string":
      return env.string(s.name, (fallback as string | undefined) ?? s.default);
    case "oneOf":
      return env.oneOf(s.name, s.values, s.default);
    case "secret":
      return env.secret(s.name, s.minLength);
    case "secretList":
      return env.secretList(s.name, s.minLength);
    case "optional":
    case "list":
      throw new Error(`read ${s.name} with readOptional or readList`);
  }
}

export const readOptional = (env: EnvReader, s: OptionalSetting): string | undefined =>
  env.optional(s.name);
export const readList = (env: EnvReader, s: ListSetting): string[] => env.list(s.name, []);

/**
 * The value the operator writes for a setting: checked against the definition (so the operator
 * cannot write what the workloads would refuse) and formatted as the reader parses it.
 */
export function settingValue(s: IntSetting | NumberSetting, v: number): string;
export function settingValue(s: ListSetting, v: readonly string[]): string;
export function settingValue(s: StringSetting | OptionalSetting | OneOfSetting, v: string): string;
export function settingValue(s: Setting, v: number | string | readonly string[]): string {
  if (s.kind === "int" || s.kind === "number") {
    const n = v as number;
    if ((s.kind === "int" && !Number.isInteger(n)) || n < s.min || n > s.max) {
      throw new RangeError(`${s.name}: ${n} is outside [${s.min}, ${s.max}]`);
    }
    return String(n);
  }
  if (s.kind === "list") return (v as readonly string[]).join(",");
  if (s.kind === "oneOf" && !s.values.includes(v as string)) {
    throw new RangeError(`${s.name}: '${String(v)}' is not one of ${s.values.join(", ")}`);
  }
  return v as string;
}

/** The settings `workload` reads. */
export const settingsOf = (workload: WorkloadCommand): Setting[] =>
  Object.values(SETTINGS as Record<string, Setting>).filter((s) => s.readBy.includes(workload));
