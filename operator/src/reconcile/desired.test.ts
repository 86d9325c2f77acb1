import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  V1ConfigMap,
  V1Deployment,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1Service,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { buildHpa } from "./autoscaling.ts";
import { buildConfigMap } from "./configmap.ts";
import { desiredState } from "./desired.ts";
import { buildPdb } from "./disruption.ts";
import { exampleCluster } from "./fixture.ts";
import { COMPONENTS, CONFIG_HASH_ANNOTATION } from "./names.ts";
import { buildNetworkPolicy } from "./network.ts";
import { buildDeployment, buildService } from "./workloads.ts";

const hashOf = (d: V1Deployment) =>
  d.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];

describe("desired state of a ChatCluster", () => {
  it("owns a ServiceAccount, a ConfigMap, and per workload a Deployment, Service, NetworkPolicy, PDB; an HPA where autoscaling is set", () => {
    const c = exampleCluster();
    const { apply, absent } = desiredState(c);
    const names = apply.map((o) => `${o.kind}/${o.metadata?.name}`).sort();
    assert.deepEqual(names, [
      "ConfigMap/demo-config",
      "Deployment/demo-forwarder",
      "Deployment/demo-gateway",
      "Deployment/demo-matcher",
      "Deployment/demo-notifier",
      "HorizontalPodAutoscaler/demo-gateway",
      "NetworkPolicy/demo-forwarder",
      "NetworkPolicy/demo-gateway",
      "NetworkPolicy/demo-matcher",
      "NetworkPolicy/demo-notifier",
      "PodDisruptionBudget/demo-forwarder",
      "PodDisruptionBudget/demo-gateway",
      "PodDisruptionBudget/demo-matcher",
      "PodDisruptionBudget/demo-notifier",
      "Service/demo-forwarder",
      "Service/demo-gateway",
      "Service/demo-matcher",
      "Service/demo-notifier",
      "ServiceAccount/demo-switchboard",
    ]);
    assert.deepEqual(absent.map((r) => `${r.kind}/${r.name}`).sort(), [
      "HorizontalPodAutoscaler/demo-forwarder",
      "HorizontalPodAutoscaler/demo-matcher",
      "HorizontalPodAutoscaler/demo-notifier",
    ]);
    for (const o of apply) {
      assert.equal(o.metadata?.namespace, "team-a");
      assert.deepEqual(o.metadata?.ownerReferences, [
        {
          apiVersion: "chat.switchboard.dev/v1alpha1",
          kind: "ChatCluster",
          name: "demo",
          uid: "uid-1",
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(o.metadata?.labels?.["app.kubernetes.io/managed-by"], "switchboard-operator");
    }
  });

  it("runs each workload's command on its port with hardened pods and probes on /healthz and /readyz", () => {
    const c = exampleCluster();
    const ports = { gateway: 8080, forwarder: 8081, matcher: 8082, notifier: 8083 };
    for (const k of COMPONENTS) {
      const d = buildDeployment(c, k);
      const pod = d.spec?.template.spec;
      const container = pod?.containers[0];
      assert.equal(container?.command, undefined, "the image's entrypoint runs");
      assert.deepEqual(container?.args, [k]);
      assert.equal(container?.image, "ghcr.io/switchboard/workloads:0.1.0");
      assert.equal(container?.ports?.[0]?.containerPort, ports[k]);
      assert.equal(pod?.securityContext?.runAsNonRoot, true);
      assert.equal(pod?.securityContext?.seccompProfile?.type, "RuntimeDefault");
      assert.equal(pod?.automountServiceAccountToken, false);
      assert.equal(pod?.serviceAccountName, "demo-switchboard");
      assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
      assert.deepEqual(container?.securityContext?.capabilities?.drop, ["ALL"]);
      assert.deepEqual(container?.resources, { requests: { cpu: "100m", memory: "128Mi" } });
      assert.equal(container?.livenessProbe?.httpGet?.path, "/healthz");
      assert.equal(container?.readinessProbe?.httpGet?.path, "/readyz");
      assert.deepEqual(container?.envFrom, [{ configMapRef: { name: "demo-config" } }]);
      assert.deepEqual(d.spec?.selector.matchLabels, {
        "app.kubernetes.io/name": "switchboard",
        "app.kubernetes.io/instance": "demo",
        "app.kubernetes.io/component": k,
      });
    }
  });

  it("references secrets from the env and never copies them into the ConfigMap", () => {
    const c = exampleCluster({
      cassandra: { credentialsSecretRef: { name: "cass" } },
      redis: { urlSecretRef: { name: "redis", key: "url" } },
      serverApi: { keySecretRef: { name: "demo-server-api", key: "keys" } },
      oidc: {
        issuerUrl: "https://login.example.com/realms/chat",
        clientId: "switchboard",
        clientSecretRef: { name: "demo-oidc", key: "client-secret" },
        redirectUrl: "https://chat.example.com/v1/auth/oidc/callback",
      },
    });
    const cm: V1ConfigMap = buildConfigMap(c);
    assert.equal(cm.data?.SERVER_API_KEYS, undefined);
    assert.equal(cm.data?.OIDC_CLIENT_SECRET, undefined, "the client secret is never a value");
    assert.equal(cm.data?.OIDC_ISSUER_URL, "https://login.example.com/realms/chat");
    assert.equal(cm.data?.OIDC_PROVIDER_LOGOUT, "true", "signing out ends the provider's session");
    assert.equal(cm.data?.OIDC_POST_LOGOUT_REDIRECT_URL, undefined, "the web client by default");
    assert.equal(cm.data?.JWT_SECRET, undefined);
    assert.equal(cm.data?.KAFKA_BROKERS, "127.0.0.1:19092");
    assert.equal(cm.data?.SWITCHBOARD_TOPIC, "demo.messages");
    assert.equal(cm.data?.CASSANDRA_KEYSPACE, "demo");
    const env = buildDeployment(c, "gateway").spec?.template.spec?.containers[0]?.env ?? [];
    const refs = Object.fromEntries(
      env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom?.secretKeyRef]),
    );
    assert.deepEqual(refs, {
      JWT_SECRET: { name: "demo-jwt", key: "secret" },
      CASSANDRA_USERNAME: { name: "cass", key: "username" },
      CASSANDRA_PASSWORD: { name: "cass", key: "password" },
      REDIS_URL: { name: "redis", key: "url" },
      SERVER_API_KEYS: { name: "demo-server-api", key: "keys" },
      OIDC_CLIENT_SECRET: { name: "demo-oidc", key: "client-secret" },
    });
    const forwarderEnv = buildDeployment(c, "forwarder").spec?.template.spec?.containers[0]?.env;
    assert.ok(
      !forwarderEnv?.some((e) => e.name === "JWT_SECRET"),
      "only the gateway gets JWT_SECRET",
    );
    assert.ok(
      !forwarderEnv?.some((e) => e.name === "SERVER_API_KEYS"),
      "only the gateway gets SERVER_API_KEYS",
    );
  });

  it("changes the config hash (rolling the pods) when configuration changes, and only then", () => {
    const base = hashOf(buildDeployment(exampleCluster(), "forwarder"));
    assert.equal(hashOf(buildDeployment(exampleCluster(), "forwarder")), base);
    assert.equal(
      hashOf(buildDeployment(exampleCluster({ forwarder: { replicas: 5 } }), "forwarder")),
      base,
    );
    assert.notEqual(
      hashOf(
        buildDeployment(exampleCluster({ observability: { logLevel: "debug" } }), "forwarder"),
      ),
      base,
    );
    assert.notEqual(
      hashOf(
        buildDeployment(exampleCluster({ kafka: { bootstrapServers: ["k2:9092"] } }), "forwarder"),
      ),
      base,
    );
  });

  it("leaves the replica count to the HPA when autoscaling is set, and sets it otherwise", () => {
    const c = exampleCluster();
    assert.equal(buildDeployment(c, "gateway").spec?.replicas, undefined);
    assert.equal(buildDeployment(c, "forwarder").spec?.replicas, 2);
    assert.equal(buildDeployment(c, "matcher").spec?.replicas, 1);
  });

  it("scales the gateway on CPU and on connections per pod (autoscaling/v2)", () => {
    const hpa = buildHpa(exampleCluster(), "gateway") as V2HorizontalPodAutoscaler;
    assert.equal(hpa.apiVersion, "autoscaling/v2");
    assert.deepEqual(hpa.spec?.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "demo-gateway",
    });
    assert.equal(hpa.spec?.minReplicas, 2);
    assert.equal(hpa.spec?.maxReplicas, 10);
    assert.deepEqual(hpa.spec?.metrics, [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
      {
        type: "Pods",
        pods: {
          metric: { name: "switchboard_gateway_connections" },
          target: { type: "AverageValue", averageValue: "5000" },
        },
      },
    ]);
    assert.equal(buildHpa(exampleCluster(), "forwarder"), undefined);
  });

  it("has a PDB unless disabled or the workload has no pods", () => {
    const pdb = buildPdb(exampleCluster(), "forwarder") as V1PodDisruptionBudget;
    assert.equal(pdb.spec?.maxUnavailable, 1);
    assert.equal(
      buildPdb(
        exampleCluster({
          forwarder: { podDisruptionBudget: { enabled: false, maxUnavailable: 1 } },
        }),
        "forwarder",
      ),
      undefined,
    );
    assert.equal(buildPdb(exampleCluster({ matcher: { replicas: 0 } }), "matcher"), undefined);
  });

  it("exposes the gateway as the spec says and lets only each workload's port in", () => {
    const svc: V1Service = buildService(
      exampleCluster({ gateway: { service: { type: "NodePort", port: 8443 } } }),
      "gateway",
    );
    assert.equal(svc.spec?.type, "NodePort");
    assert.deepEqual(svc.spec?.ports, [
      { name: "http", port: 8443, targetPort: "http", protocol: "TCP" },
    ]);
    const np: V1NetworkPolicy = buildNetworkPolicy(exampleCluster(), "matcher");
    assert.deepEqual(np.spec?.policyTypes, ["Ingress"]);
    assert.deepEqual(np.spec?.ingress, [{ ports: [{ port: 8082, protocol: "TCP" }] }]);
  });
});
