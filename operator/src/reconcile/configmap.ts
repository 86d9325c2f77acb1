// The ConfigMap every workload reads its settings from (workloads/shared/settings.ts and
// workloads/gateway/config.ts name the variables). Secrets never go here: they are referenced
// from the pod's env (workloads.ts).
import type { V1ConfigMap } from "@kubernetes/client-node";
import { keyspaceOf, messagesTopic, type ParsedChatCluster } from "../api/parse.ts";
import { configMapName, ownedMeta } from "./names.ts";

export function configData(c: ParsedChatCluster): Record<string, string> {
  const { kafka, cassandra, redis, auth, observability } = c.spec;
  const data: Record<string, string> = {
    SWITCHBOARD_CLUSTER: c.name,
    SWITCHBOARD_BACKENDS: "real",
    SWITCHBOARD_TOPIC: messagesTopic(c),
    KAFKA_BROKERS: kafka.bootstrapServers.join(","),
    CASSANDRA_CONTACT_POINTS: cassandra.contactPoints.join(","),
    CASSANDRA_LOCAL_DC: cassandra.localDatacenter,
    CASSANDRA_KEYSPACE: keyspaceOf(c),
    JWT_ISSUER: auth.issuer,
    ACCESS_TOKEN_TTL_SECONDS: String(auth.accessTokenTtlSeconds),
    REFRESH_TOKEN_TTL_SECONDS: String(auth.refreshTokenTtlSeconds),
    LOG_LEVEL: observability.logLevel,
    OTEL_TRACES_SAMPLER_ARG: String(observability.traceSampleRatio),
  };
  if (redis.url !== undefined) data.REDIS_URL = redis.url;
  if (observability.otlpEndpoint !== undefined) {
    data.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = observability.otlpEndpoint;
  }
  return data;
}

export function buildConfigMap(c: ParsedChatCluster): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: ownedMeta(c, configMapName(c)),
    data: configData(c),
  };
}
