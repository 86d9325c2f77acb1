// Deployment and Service of each workload: hardened pods (non-root, read-only root filesystem,
// no capabilities, no service account token), probes on the workloads' /healthz and /readyz,
// secrets referenced from the env, and a config hash that rolls the pods when their
// configuration changes.

import type { V1Deployment, V1EnvVar, V1EnvVarSource, V1Service } from "@kubernetes/client-node";
import {
  IMAGE_UID,
  PROBE_PATHS,
  SETTINGS,
  type Setting,
  settingValue,
  WORKLOAD_PORTS,
} from "#contract/settings";
import type { ParsedChatCluster, ResolvedComponent } from "../api/parse.ts";
import { configData } from "./configmap.ts";
import { stableHash } from "./hash.ts";
import {
  CONFIG_HASH_ANNOTATION,
  type Component,
  commonLabels,
  componentName,
  configMapName,
  ownedMeta,
  selectorLabels,
  serviceAccountName,
} from "./names.ts";

/** The keys of the Secret spec.objectStore.credentialsSecretRef names. */
export const OBJECT_STORE_KEYS = {
  accessKeyId: "accessKeyId",
  secretAccessKey: "secretAccessKey",
} as const;

export const componentSpec = (c: ParsedChatCluster, component: Component): ResolvedComponent =>
  c.spec[component];

/** Env from Secrets and the downward API, each only for the workloads that read it. */
export function secretEnv(c: ParsedChatCluster, component: Component): V1EnvVar[] {
  const S = SETTINGS;
  const env: V1EnvVar[] = [];
  const add = (setting: Setting, valueFrom: V1EnvVarSource) => {
    if (setting.readBy.includes(component)) env.push({ name: setting.name, valueFrom });
  };
  const fromSecret = (ref: { name: string; key: string }) => ({
    secretKeyRef: { name: ref.name, key: ref.key },
  });
  add(S.podName, { fieldRef: { fieldPath: "metadata.name" } });
  add(S.jwtSecret, fromSecret(c.spec.auth.jwtSecretRef));
  if (c.spec.serverApi !== undefined)
    add(S.serverApiKeys, fromSecret(c.spec.serverApi.keySecretRef));
  const oidcSecret = c.spec.oidc?.clientSecretRef;
  if (oidcSecret !== undefined) add(S.oidcClientSecret, fromSecret(oidcSecret));
  const creds = c.spec.cassandra.credentialsSecretRef;
  if (creds !== undefined) {
    add(S.cassandraUsername, fromSecret({ name: creds.name, key: "username" }));
    add(S.cassandraPassword, fromSecret({ name: creds.name, key: "password" }));
  }
  if (c.spec.redis.urlSecretRef !== undefined)
    add(S.redisUrl, fromSecret(c.spec.redis.urlSecretRef));
  const store = c.spec.objectStore?.credentialsSecretRef;
  if (store !== undefined) {
    add(
      S.objectStoreAccessKeyId,
      fromSecret({ name: store.name, key: OBJECT_STORE_KEYS.accessKeyId }),
    );
    add(
      S.objectStoreSecretAccessKey,
      fromSecret({ name: store.name, key: OBJECT_STORE_KEYS.secretAccessKey }),
    );
  }
  return env;
}

/** The hash of everything a pod reads at start: the ConfigMap's data and the secret refs. */
export function configHash(c: ParsedChatCluster, component: Component): string {
  return stableHash({ config: configData(c), env: secretEnv(c, component) });
}

export function buildDeployment(c: ParsedChatCluster, component: Component): V1Deployment {
  const spec = componentSpec(c, component);
  const port = WORKLOAD_PORTS[component];
  const { observability, image } = c.spec;
  const annotations: Record<string, string> = {
    [CONFIG_HASH_ANNOTATION]: configHash(c, component),
  };
  if (observability.metrics) {
    annotations["prometheus.io/scrape"] = "true";
    annotations["prometheus.io/port"] = String(port);
    annotations["prometheus.io/path"] = PROBE_PATHS.metrics;
  }
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: ownedMeta(c, componentName(c, component), { component }),
    spec: {
      // with autoscaling the HorizontalPodAutoscaler owns the count: we leave the field alone
      ...(spec.autoscaling === undefined && { replicas: spec.replicas }),
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(c, component) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...commonLabels(c), "app.kubernetes.io/component": component },
          annotations,
        },
        spec: {
          serviceAccountName: serviceAccountName(c),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: IMAGE_UID,
            runAsGroup: IMAGE_UID,
            fsGroup: IMAGE_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: component,
              image: `${image.repository}:${image.tag}`,
              imagePullPolicy: image.pullPolicy,
              // the image's entrypoint (node workloads/main.ts) runs the command named here
              args: [component],
              ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
              env: [
                { name: SETTINGS.port.name, value: settingValue(SETTINGS.port, port) },
                ...secretEnv(c, component),
              ],
              envFrom: [{ configMapRef: { name: configMapName(c) } }],
              resources: spec.resources,
              livenessProbe: probe(PROBE_PATHS.live, 10, 3),
              readinessProbe: probe(PROBE_PATHS.ready, 5, 2),
              startupProbe: probe(PROBE_PATHS.live, 2, 30),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                privileged: false,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
        },
      },
    },
  };
}

export function buildService(c: ParsedChatCluster, component: Component): V1Service {
  const port = WORKLOAD_PORTS[component];
  const gateway = component === "gateway" ? c.spec.gateway.service : undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: ownedMeta(c, componentName(c, component), {
      component,
      ...(gateway?.annotations !== undefined && { annotations: gateway.annotations }),
    }),
    spec: {
      type: gateway?.type ?? "ClusterIP",
      selector: selectorLabels(c, component),
      ports: [
        {
          name: "http",
          port: gateway?.port ?? port,
          targetPort: "http",
          protocol: "TCP",
        },
      ],
    },
  };
}
