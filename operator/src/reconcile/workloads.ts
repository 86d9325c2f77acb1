// Deployment and Service of each workload: hardened pods (non-root, read-only root filesystem,
// no capabilities, no service account token), probes on the workloads' /healthz and /readyz,
// secrets referenced from the env, and a config hash that rolls the pods when their
// configuration changes.
import type { V1Deployment, V1EnvVar, V1Service } from "@kubernetes/client-node";
import type { ParsedChatCluster, ResolvedComponent } from "../api/parse.ts";
import { configData } from "./configmap.ts";
import { stableHash } from "./hash.ts";
import {
  APP_DIR,
  APP_UID,
  CONFIG_HASH_ANNOTATION,
  type Component,
  commonLabels,
  componentName,
  configMapName,
  ownedMeta,
  selectorLabels,
  serviceAccountName,
  WORKLOADS,
} from "./names.ts";

export const componentSpec = (c: ParsedChatCluster, component: Component): ResolvedComponent =>
  c.spec[component];

/** Env from Secrets and the downward API (the ConfigMap comes in through envFrom). */
export function secretEnv(c: ParsedChatCluster, component: Component): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  ];
  const fromSecret = (name: string, ref: { name: string; key: string }): V1EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
  });
  if (component === "gateway") env.push(fromSecret("JWT_SECRET", c.spec.auth.jwtSecretRef));
  const creds = c.spec.cassandra.credentialsSecretRef;
  if (creds !== undefined) {
    env.push(fromSecret("CASSANDRA_USERNAME", { name: creds.name, key: "username" }));
    env.push(fromSecret("CASSANDRA_PASSWORD", { name: creds.name, key: "password" }));
  }
  if (c.spec.redis.urlSecretRef !== undefined) {
    env.push(fromSecret("REDIS_URL", c.spec.redis.urlSecretRef));
  }
  return env;
}

/** The hash of everything a pod reads at start: the ConfigMap's data and the secret refs. */
export function configHash(c: ParsedChatCluster, component: Component): string {
  return stableHash({ config: configData(c), env: secretEnv(c, component) });
}

export function buildDeployment(c: ParsedChatCluster, component: Component): V1Deployment {
  const spec = componentSpec(c, component);
  const { entry, port } = WORKLOADS[component];
  const { observability, image } = c.spec;
  const annotations: Record<string, string> = {
    [CONFIG_HASH_ANNOTATION]: configHash(c, component),
  };
  if (observability.metrics) {
    annotations["prometheus.io/scrape"] = "true";
    annotations["prometheus.io/port"] = String(port);
    annotations["prometheus.io/path"] = "/metrics";
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
            runAsUser: APP_UID,
            runAsGroup: APP_UID,
            fsGroup: APP_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: component,
              image: `${image.repository}:${image.tag}`,
              imagePullPolicy: image.pullPolicy,
              command: ["node", entry],
              workingDir: APP_DIR,
              ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
              env: [{ name: "PORT", value: String(port) }, ...secretEnv(c, component)],
              envFrom: [{ configMapRef: { name: configMapName(c) } }],
              resources: spec.resources,
              livenessProbe: probe("/healthz", 10, 3),
              readinessProbe: probe("/readyz", 5, 2),
              startupProbe: probe("/healthz", 2, 30),
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
  const { port } = WORKLOADS[component];
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
