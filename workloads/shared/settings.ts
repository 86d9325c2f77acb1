// Settings every workload shares: which ChatCluster it belongs to and where its backends are.
// SWITCHBOARD_BACKENDS=memory runs on in-process adapters (the embedded default, unit tests);
// real runs on Kafka, Cassandra and Redis.
import type { EnvReader } from "#contract/env";
import {
  defaultKeyspaceOf,
  deliveriesTopicOf,
  messagesTopicOf,
  readList,
  readOptional,
  readSetting,
  redisNamespaceOf,
  SETTINGS,
  WORKLOAD_PORTS,
  type Workload,
} from "#contract/settings";

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
  /** the fallback delivery path's topic (docs/decisions/0019) */
  readonly deliveriesTopic: string;
  readonly redisNamespace: string;
  readonly backends: { readonly kind: "memory" } | RealBackendSettings;
  readonly otlpEndpoint: string | undefined;
  readonly traceSampleRatio: number;
  readonly logLevel: string;
}

export function readSharedSettings(env: EnvReader, service: string): SharedSettings {
  const S = SETTINGS;
  const cluster = readSetting(env, S.cluster);
  if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(cluster)) {
    env.string(`${S.cluster.name}_INVALID_NAME_must_be_a_DNS_label`);
  }
  const kind = readSetting(env, S.backends);
  const backends: SharedSettings["backends"] =
    kind === "memory"
      ? { kind }
      : {
          kind,
          kafkaBrokers: readList(env, S.kafkaBrokers),
          kafkaClientId: readSetting(env, S.kafkaClientId, `${cluster}-${service}`),
          cassandraContactPoints: readList(env, S.cassandraContactPoints),
          cassandraLocalDc: readSetting(env, S.cassandraLocalDc),
          cassandraKeyspace: readSetting(env, S.cassandraKeyspace, defaultKeyspaceOf(cluster)),
          cassandraUsername: readOptional(env, S.cassandraUsername),
          cassandraPassword: readOptional(env, S.cassandraPassword),
          redisUrl: readSetting(env, S.redisUrl),
          kafkaSessionTimeoutMs: readSetting(env, S.kafkaSessionTimeoutMs),
        };
  if (backends.kind === "real") {
    if (backends.kafkaBrokers.length === 0) env.string(S.kafkaBrokers.name);
    if (backends.cassandraContactPoints.length === 0) env.string(S.cassandraContactPoints.name);
  }
  return {
    cluster,
    topic: readSetting(env, S.topic, messagesTopicOf(cluster)),
    deliveriesTopic: readSetting(env, S.deliveriesTopic, deliveriesTopicOf(cluster)),
    redisNamespace: redisNamespaceOf(cluster),
    backends,
    otlpEndpoint: readOptional(env, S.otlpEndpoint),
    traceSampleRatio: readSetting(env, S.traceSampleRatio),
    logLevel: readSetting(env, S.logLevel),
  };
}

/** Where a workload's HTTP server listens (the gateway: on loopback when embedded). */
export function readListen(
  env: EnvReader,
  workload: Workload,
  hostDefault = "0.0.0.0",
): { readonly port: number; readonly host: string } {
  return {
    port: readSetting(env, SETTINGS.port, WORKLOAD_PORTS[workload]),
    host: readSetting(env, SETTINGS.host, hostDefault),
  };
}
