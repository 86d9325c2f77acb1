// The ConfigMap every workload reads its settings from, written through the contract's setting
// definitions (workloads/contract/settings.ts), which the workloads' readers read through.
// One ConfigMap serves all three workloads: each key is read by at least one of them
// (contract.test.ts checks it). Secrets never go here: they are referenced from the pod's env
// (workloads.ts).

import type { V1ConfigMap } from "@kubernetes/client-node";
import { Value } from "@sinclair/typebox/value";
import { SETTINGS, settingValue } from "#contract/settings";
import {
  deliveriesTopic,
  keyspaceOf,
  messagesTopic,
  type ParsedChatCluster,
} from "../api/parse.ts";
import { ObjectStoreLimits, type ObjectStoreLimits as ObjectStoreLimitsT } from "../api/schema.ts";
import { configMapName, ownedMeta } from "./names.ts";

export function configData(c: ParsedChatCluster): Record<string, string> {
  const { kafka, cassandra, redis, auth, observability, oidc } = c.spec;
  const S = SETTINGS;
  const data: Record<string, string> = {
    [S.cluster.name]: settingValue(S.cluster, c.name),
    [S.backends.name]: settingValue(S.backends, "real"),
    [S.topic.name]: settingValue(S.topic, messagesTopic(c)),
    [S.deliveriesTopic.name]: settingValue(S.deliveriesTopic, deliveriesTopic(c)),
    [S.kafkaBrokers.name]: settingValue(S.kafkaBrokers, kafka.bootstrapServers),
    [S.cassandraContactPoints.name]: settingValue(
      S.cassandraContactPoints,
      cassandra.contactPoints,
    ),
    [S.cassandraLocalDc.name]: settingValue(S.cassandraLocalDc, cassandra.localDatacenter),
    [S.cassandraKeyspace.name]: settingValue(S.cassandraKeyspace, keyspaceOf(c)),
    [S.jwtIssuer.name]: settingValue(S.jwtIssuer, auth.issuer),
    [S.accessTokenTtlSeconds.name]: settingValue(
      S.accessTokenTtlSeconds,
      auth.accessTokenTtlSeconds,
    ),
    [S.refreshTokenTtlSeconds.name]: settingValue(
      S.refreshTokenTtlSeconds,
      auth.refreshTokenTtlSeconds,
    ),
    [S.logLevel.name]: settingValue(S.logLevel, observability.logLevel),
    [S.traceSampleRatio.name]: settingValue(S.traceSampleRatio, observability.traceSampleRatio),
  };
  if (redis.url !== undefined) data[S.redisUrl.name] = settingValue(S.redisUrl, redis.url);
  if (oidc !== undefined) {
    data[S.oidcIssuerUrl.name] = settingValue(S.oidcIssuerUrl, oidc.issuerUrl);
    data[S.oidcClientId.name] = settingValue(S.oidcClientId, oidc.clientId);
    data[S.oidcRedirectUrl.name] = settingValue(S.oidcRedirectUrl, oidc.redirectUrl);
    data[S.oidcScopes.name] = settingValue(S.oidcScopes, oidc.scopes);
    data[S.oidcProviderName.name] = settingValue(S.oidcProviderName, oidc.providerName);
    // the schema defaults it to true; a spec built in code may leave it out
    data[S.oidcProviderLogout.name] = settingValue(
      S.oidcProviderLogout,
      oidc.providerLogout === false ? "false" : "true",
    );
    if (oidc.postLogoutRedirectUrl !== undefined) {
      data[S.oidcPostLogoutRedirectUrl.name] = settingValue(
        S.oidcPostLogoutRedirectUrl,
        oidc.postLogoutRedirectUrl,
      );
    }
  }
  const store = c.spec.objectStore;
  if (store !== undefined) {
    // the schema defaults limits to {} and fills it in; a spec built in code may leave it out
    const limits = store.limits ?? (Value.Default(ObjectStoreLimits, {}) as ObjectStoreLimitsT);
    Object.assign(data, {
      [S.objectStoreEndpoint.name]: settingValue(S.objectStoreEndpoint, store.endpoint),
      [S.objectStoreBucket.name]: settingValue(S.objectStoreBucket, store.bucket),
      [S.objectStoreRegion.name]: settingValue(S.objectStoreRegion, store.region),
      [S.objectStoreForcePathStyle.name]: settingValue(
        S.objectStoreForcePathStyle,
        String(store.forcePathStyle),
      ),
      [S.uploadMaxBytes.name]: settingValue(S.uploadMaxBytes, limits.maxBytes),
      [S.uploadContentTypes.name]: settingValue(
        S.uploadContentTypes,
        limits.contentTypes.join(","),
      ),
      [S.uploadUrlTtlSeconds.name]: settingValue(S.uploadUrlTtlSeconds, limits.uploadUrlTtlSeconds),
      [S.downloadUrlTtlSeconds.name]: settingValue(
        S.downloadUrlTtlSeconds,
        limits.downloadUrlTtlSeconds,
      ),
    });
  }
  if (observability.otlpEndpoint !== undefined) {
    data[S.otlpEndpoint.name] = settingValue(S.otlpEndpoint, observability.otlpEndpoint);
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
