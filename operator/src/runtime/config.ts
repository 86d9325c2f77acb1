// The operator's settings, from the environment (parsed once at start; a bad value stops the
// process with a message naming it). Short timings are for tests; the defaults are
// client-go's leader-election timings and controller-runtime's backoff cap.
import { hostname } from "node:os";
import type { EnvReader } from "#contract/env";

export interface OperatorSettings {
  /** the one namespace to watch; undefined: every namespace */
  readonly watchNamespace: string | undefined;
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly identity: string;
  readonly lease: {
    readonly namespace: string;
    readonly name: string;
    readonly durationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
  };
  readonly queue: {
    readonly concurrency: number;
    readonly baseDelayMs: number;
    readonly maxDelayMs: number;
    readonly maxKeys: number;
  };
  readonly resyncMs: number;
  readonly kubeRequestTimeoutMs: number;
  readonly kafka: { readonly connectionTimeoutMs: number; readonly requestTimeoutMs: number };
  readonly cassandra: {
    readonly connectTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly lockTtlSeconds: number;
    readonly lockWaitMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly otlpEndpoint: string | undefined;
}

export function readOperatorSettings(env: EnvReader): OperatorSettings {
  const watch = env.optional("WATCH_NAMESPACE");
  const podNamespace = env.optional("POD_NAMESPACE");
  const durationMs = env.int("LEASE_DURATION_MS", 15_000, { min: 1_000, max: 600_000 });
  return {
    watchNamespace: watch === undefined || watch === "" ? undefined : watch,
    port: env.int("PORT", 8090, { min: 0, max: 65535 }),
    host: env.string("HOST", "0.0.0.0"),
    logLevel: env.oneOf(
      "LOG_LEVEL",
      ["trace", "debug", "info", "warn", "error", "fatal"] as const,
      "info",
    ),
    identity: env.string("POD_NAME", `${hostname()}-${process.pid}`),
    lease: {
      namespace: env.string("LEASE_NAMESPACE", podNamespace ?? watch ?? "default"),
      name: env.string("LEASE_NAME", "switchboard-operator"),
      durationMs,
      renewDeadlineMs: env.int("LEASE_RENEW_DEADLINE_MS", Math.round((durationMs * 2) / 3), {
        min: 500,
        max: durationMs,
      }),
      retryPeriodMs: env.int("LEASE_RETRY_PERIOD_MS", Math.round(durationMs / 7), {
        min: 100,
        max: durationMs,
      }),
    },
    queue: {
      concurrency: env.int("RECONCILE_CONCURRENCY", 2, { min: 1, max: 32 }),
      baseDelayMs: env.int("BACKOFF_BASE_MS", 500, { min: 10, max: 60_000 }),
      maxDelayMs: env.int("BACKOFF_MAX_MS", 60_000, { min: 100, max: 3_600_000 }),
      maxKeys: env.int("QUEUE_MAX_KEYS", 10_000, { min: 1, max: 1_000_000 }),
    },
    resyncMs: env.int("RESYNC_MS", 300_000, { min: 1_000, max: 86_400_000 }),
    kubeRequestTimeoutMs: env.int("KUBE_REQUEST_TIMEOUT_MS", 15_000, { min: 500, max: 120_000 }),
    kafka: {
      connectionTimeoutMs: env.int("KAFKA_CONNECTION_TIMEOUT_MS", 3_000, { min: 100, max: 60_000 }),
      requestTimeoutMs: env.int("KAFKA_REQUEST_TIMEOUT_MS", 15_000, { min: 500, max: 120_000 }),
    },
    cassandra: {
      connectTimeoutMs: env.int("CASSANDRA_CONNECT_TIMEOUT_MS", 5_000, { min: 100, max: 60_000 }),
      requestTimeoutMs: env.int("CASSANDRA_REQUEST_TIMEOUT_MS", 30_000, { min: 500, max: 300_000 }),
      lockTtlSeconds: env.int("MIGRATION_LOCK_TTL_SECONDS", 60, { min: 1, max: 3_600 }),
      lockWaitMs: env.int("MIGRATION_LOCK_WAIT_MS", 120_000, { min: 100, max: 3_600_000 }),
    },
    shutdownTimeoutMs: env.int("SHUTDOWN_TIMEOUT_MS", 30_000, { min: 1_000, max: 300_000 }),
    otlpEndpoint: env.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  };
}
