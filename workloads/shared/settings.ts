// Settings every workload shares: which ChatCluster it belongs to and where its backends are.
// SWITCHBOARD_BACKENDS=memory runs on in-process adapters (the embedded default, unit tests);
// real runs on Kafka, Cassandra and Redis.
import type { EnvReader } from "./config.ts";

export interface RealBackendSettings {
  readonly kind: "real";
  readonly kafkaBrokers: string[];
  readonly kafkaClientId: string;
  readonly cassandraContactPoints: string[];
  readonly cassandraLocalDc: string;
  readonly cassandraKeyspace: string;
  readonly cassandraUsername: string | undefined;
  readonly cassandraPassword: string | undefined;
  readonly redisUrl: string;
  /** how long the group waits for a silent consumer before giving its partitions to others */
  readonly kafkaSessionTimeoutMs: number;
}

export interface SharedSettings {
  /** the ChatCluster's name: prefix of its topics and Redis keys */
  readonly cluster: string;
  readonly topic: string;
  readonly redisNamespace: string;
  readonly backends: { readonly kind: "memory" } | RealBackendSettings;
  readonly otlpEndpoint: string | undefined;
  readonly traceSampleRatio: number;
  readonly logLevel: string;
}

export function readSharedSettings(env: EnvReader, service: string): SharedSettings {
  const cluster = env.string("SWITCHBOARD_CLUSTER", "switchboard");
  if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(cluster)) {
    env.string("SWITCHBOARD_CLUSTER_INVALID_NAME_must_be_a_DNS_label");
  }
  const kind = env.oneOf("SWITCHBOARD_BACKENDS", ["memory", "real"] as const, "real");
  const keyspaceDefault = cluster.replaceAll("-", "_");
  const backends: SharedSettings["backends"] =
    kind === "memory"
      ? { kind }
      : {
          kind,
          kafkaBrokers: env.list("KAFKA_BROKERS", []),
          kafkaClientId: env.string("KAFKA_CLIENT_ID", `${cluster}-${service}`),
          cassandraContactPoints: env.list("CASSANDRA_CONTACT_POINTS", []),
          cassandraLocalDc: env.string("CASSANDRA_LOCAL_DC", "datacenter1"),
          cassandraKeyspace: env.string("CASSANDRA_KEYSPACE", keyspaceDefault),
          cassandraUsername: env.optional("CASSANDRA_USERNAME"),
          cassandraPassword: env.optional("CASSANDRA_PASSWORD"),
          redisUrl: env.string("REDIS_URL"),
          kafkaSessionTimeoutMs: env.int("KAFKA_SESSION_TIMEOUT_MS", 6_000, {
            min: 6_000,
            max: 300_000,
          }),
        };
  if (backends.kind === "real") {
    if (backends.kafkaBrokers.length === 0) env.string("KAFKA_BROKERS");
    if (backends.cassandraContactPoints.length === 0) env.string("CASSANDRA_CONTACT_POINTS");
  }
  return {
    cluster,
    topic: env.string("SWITCHBOARD_TOPIC", `${cluster}.messages`),
    redisNamespace: `sb:${cluster}:`,
    backends,
    otlpEndpoint: env.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    traceSampleRatio: env.number("OTEL_TRACES_SAMPLER_ARG", 1, { min: 0, max: 1 }),
    logLevel: env.oneOf(
      "LOG_LEVEL",
      ["trace", "debug", "info", "warn", "error", "fatal"] as const,
      "info",
    ),
  };
}
