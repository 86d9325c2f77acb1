// The seam between the operator and the workloads, tested from both sides: every object the
// operator builds for a ChatCluster (the ConfigMap, each Deployment's env with its Secret and
// downward-API refs, args, ports, probes, the Services) is fed to each workload's REAL config
// reader and HTTP surface. Any variable a workload is given and does not read (unknown), any
// setting it needs and is not given (missing) and any value it refuses (invalid) fails here.
import assert from "node:assert/strict";
import { get } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Service,
} from "@kubernetes/client-node";
import { EnvReader } from "#contract/env";
import { probeServer } from "#contract/process";
import { settingsOf, type Workload } from "#contract/settings";
import { startCluster } from "../../../workloads/embedded/cluster.ts";
import { readForwarderSettings } from "../../../workloads/forwarder/config.ts";
import { readGatewaySettings } from "../../../workloads/gateway/config.ts";
import { parseCommand } from "../../../workloads/main.ts";
import { readMatcherSettings } from "../../../workloads/matcher/config.ts";
import { readNotifierSettings } from "../../../workloads/notifier/config.ts";
import { readListen, readSharedSettings } from "../../../workloads/shared/settings.ts";
import { createMetrics } from "../../../workloads/shared/telemetry/metrics.ts";
import type { ParsedChatCluster } from "../api/parse.ts";
import { desiredState } from "./desired.ts";
import { exampleCluster } from "./fixture.ts";
import { COMPONENTS, type Component, componentName } from "./names.ts";
import { OBJECT_STORE_KEYS } from "./workloads.ts";

/** Each workload's start-up reading of its settings, exactly as its main.ts does it. */
const readers: Record<Workload, (env: EnvReader) => { port: number }> = {
  gateway: (env) => {
    const shared = readSharedSettings(env, "gateway");
    return readGatewaySettings(env, { embedded: shared.backends.kind === "memory" });
  },
  forwarder: (env) => readForwarderSettings(env, readSharedSettings(env, "forwarder").cluster),
  matcher: (env) => {
    readSharedSettings(env, "matcher");
    readMatcherSettings(env);
    return readListen(env, "matcher");
  },
  notifier: (env) => readNotifierSettings(env, readSharedSettings(env, "notifier").cluster),
};

/** The values of the Secrets a ChatCluster names (what the kubelet would inject). */
function secretsOf(c: ParsedChatCluster): Map<string, string> {
  const s = new Map<string, string>();
  const { jwtSecretRef } = c.spec.auth;
  s.set(`${jwtSecretRef.name}/${jwtSecretRef.key}`, "0123456789abcdef0123456789abcdef-contract");
  const creds = c.spec.cassandra.credentialsSecretRef;
  if (creds !== undefined) {
    s.set(`${creds.name}/username`, "chat");
    s.set(`${creds.name}/password`, "secret");
  }
  const redis = c.spec.redis.urlSecretRef;
  if (redis !== undefined) s.set(`${redis.name}/${redis.key}`, "redis://redis.example:6379");
  const oidc = c.spec.oidc?.clientSecretRef;
  if (oidc !== undefined) s.set(`${oidc.name}/${oidc.key}`, "a-client-secret-from-the-provider");
  const store = c.spec.objectStore?.credentialsSecretRef;
  if (store !== undefined) {
    s.set(`${store.name}/${OBJECT_STORE_KEYS.accessKeyId}`, "AKIDCONTRACT");
    s.set(`${store.name}/${OBJECT_STORE_KEYS.secretAccessKey}`, "contract-secret-access-key");
  }
  const server = c.spec.serverApi?.keySecretRef;
  if (server !== undefined) {
    // two keys, one per line, as a rotation holds them
    s.set(`${server.name}/${server.key}`, `${"a".repeat(32)}\n${"b".repeat(40)}\n`);
  }
  return s;
}

const find =
  <T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string) =>
  (name: string): T => {
    const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
    assert.ok(o, `the operator builds no ${kind} ${name}`);
    return o as T;
  };

/**
 * The environment the container starts with, as the kubelet assembles it: envFrom first, then
 * env (which wins), Secret and downward-API refs resolved. Where each variable came from is kept.
 */
function containerEnv(
  c: ParsedChatCluster,
  objects: readonly KubernetesObject[],
  container: V1Container,
): { env: Record<string, string>; fromConfigMap: Set<string>; fromEnv: Set<string> } {
  const env: Record<string, string> = {};
  const fromConfigMap = new Set<string>();
  const fromEnv = new Set<string>();
  const secrets = secretsOf(c);
  for (const source of container.envFrom ?? []) {
    assert.ok(source.configMapRef, "envFrom only from the operator's ConfigMap");
    const cm = find<V1ConfigMap>(objects, "ConfigMap")(source.configMapRef.name ?? "");
    for (const [k, v] of Object.entries(cm.data ?? {})) {
      env[k] = v;
      fromConfigMap.add(k);
    }
  }
  for (const e of container.env ?? []) {
    fromEnv.add(e.name);
    if (e.value !== undefined) {
      env[e.name] = e.value;
      continue;
    }
    const secret = e.valueFrom?.secretKeyRef;
    const field = e.valueFrom?.fieldRef;
    if (secret !== undefined) {
      const value = secrets.get(`${secret.name}/${secret.key}`);
      assert.ok(value !== undefined, `${e.name} refers to ${secret.name}/${secret.key}, unknown`);
      env[e.name] = value;
    } else if (field !== undefined) {
      assert.equal(field.fieldPath, "metadata.name", `${e.name}: an unsupported fieldRef`);
      env[e.name] = `${container.name}-7d9f-abcde`;
    } else {
      assert.fail(`${e.name} has neither a value nor a ref the contract knows`);
    }
  }
  return { env, fromConfigMap, fromEnv };
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

/** The probe paths of a container, each of which its workload must serve (not 404). */
const probePaths = (container: V1Container): string[] =>
  [container.livenessProbe, container.readinessProbe, container.startupProbe].map((p) => {
    assert.equal(p?.httpGet?.port, "http", "probes go to the named http port");
    return p?.httpGet?.path ?? "";
  });

/** Everything a workload's reading of `cluster`'s objects gives, checked against the contract. */
function checkWorkload(c: ParsedChatCluster, component: Component) {
  const objects = desiredState(c).apply;
  const deployment = find<V1Deployment>(objects, "Deployment")(componentName(c, component));
  const containers = deployment.spec?.template.spec?.containers ?? [];
  assert.equal(containers.length, 1);
  const container = containers[0] as V1Container;

  // args: the image's entrypoint runs the command the args name
  assert.equal(container.command, undefined, "no command: the image's entrypoint");
  assert.equal(parseCommand(container.args ?? []), component, `args ${container.args}`);

  // env: read by the real reader, which must accept it whole
  const { env, fromConfigMap, fromEnv } = containerEnv(c, objects, container);
  const reader = new EnvReader(env);
  const { port } = readers[component](reader);
  assert.doesNotThrow(() => reader.done(), `${component} refuses its settings`);
  const unknown = [...fromEnv].filter((name) => !reader.read.has(name));
  assert.deepEqual(unknown, [], `${component} is given env it never reads`);

  // the contract's readBy is what the reader really reads
  const declared = settingsOf(component).map((s) => s.name);
  assert.deepEqual(
    [...reader.read].filter((n) => !declared.includes(n)),
    [],
    `${component} reads variables its contract does not declare`,
  );
  assert.deepEqual(
    declared.filter((n) => !reader.read.has(n)),
    [],
    `${component}'s contract declares variables it never reads`,
  );

  // ports: the container's, the Service's target and the scrape annotation are the read port
  const http = container.ports?.find((p) => p.name === "http");
  assert.equal(http?.containerPort, port, `${component} listens on ${port}`);
  const service = find<V1Service>(objects, "Service")(componentName(c, component));
  assert.equal(service.spec?.ports?.[0]?.targetPort, "http");
  const annotations = deployment.spec?.template.metadata?.annotations ?? {};
  if (annotations["prometheus.io/port"] !== undefined) {
    assert.equal(annotations["prometheus.io/port"], String(port));
  }
  return { reader, fromConfigMap, container, annotations };
}

/** ChatClusters that together use every optional part of the spec. */
const clusters: Record<string, () => ParsedChatCluster> = {
  "the example": () => exampleCluster(),
  "credentials and the Redis URL from Secrets, tracing on": () =>
    exampleCluster({
      cassandra: { credentialsSecretRef: { name: "cass" } },
      redis: { urlSecretRef: { name: "redis", key: "url" } },
      observability: {
        otlpEndpoint: "http://otel-collector:4318/v1/traces",
        traceSampleRatio: 0.25,
      },
    }),
  "the server API's keys from a Secret": () =>
    exampleCluster({ serverApi: { keySecretRef: { name: "server-api", key: "keys" } } }),
  "single sign-on, its client secret from a Secret": () =>
    exampleCluster({
      oidc: {
        issuerUrl: "https://login.example.com/realms/chat",
        clientId: "switchboard",
        clientSecretRef: { name: "oidc", key: "client-secret" },
        redirectUrl: "https://chat.example.com/v1/auth/oidc/callback",
        providerName: "Example Login",
      },
    }),
  "single sign-on as a public client (no secret)": () =>
    exampleCluster({
      oidc: {
        issuerUrl: "https://login.example.com/realms/chat",
        clientId: "switchboard-public",
        redirectUrl: "https://chat.example.com/v1/auth/oidc/callback",
      },
    }),
  "an object store with its credentials from a Secret and its own limits": () =>
    exampleCluster({ objectStore: OBJECT_STORE }),
};

const OBJECT_STORE = {
  endpoint: "https://s3.example:9000",
  bucket: "chat-uploads",
  region: "eu-west-1",
  forcePathStyle: false,
  credentialsSecretRef: { name: "s3" },
  limits: {
    maxBytes: 2048,
    contentTypes: ["image/*", "application/pdf"],
    downloadUrlTtlSeconds: 60,
  },
};

describe("the contract between the operator and the workloads", () => {
  for (const [label, make] of Object.entries(clusters)) {
    it(`each workload reads what the operator writes for ${label}: nothing unknown, missing or invalid`, () => {
      const c = make();
      const readByAny = new Set<string>();
      let configMapKeys = new Set<string>();
      for (const component of COMPONENTS) {
        const { reader, fromConfigMap } = checkWorkload(c, component);
        for (const n of reader.read) readByAny.add(n);
        configMapKeys = fromConfigMap;
      }
      assert.ok(configMapKeys.size > 0);
      assert.deepEqual(
        [...configMapKeys].filter((k) => !readByAny.has(k)),
        [],
        "ConfigMap keys no workload reads",
      );
    });
  }

  it("the gateway reads spec.objectStore as its object store and upload limits; without it, uploads are off", () => {
    const read = (c: ParsedChatCluster) => {
      const objects = desiredState(c).apply;
      const deployment = find<V1Deployment>(objects, "Deployment")(componentName(c, "gateway"));
      const container = deployment.spec?.template.spec?.containers?.[0] as V1Container;
      const env = new EnvReader(containerEnv(c, objects, container).env);
      return readGatewaySettings(env, { embedded: false });
    };
    const on = read(exampleCluster({ objectStore: OBJECT_STORE }));
    assert.deepEqual(on.objectStore, {
      endpoint: OBJECT_STORE.endpoint,
      bucket: OBJECT_STORE.bucket,
      region: OBJECT_STORE.region,
      forcePathStyle: false,
      accessKeyId: "AKIDCONTRACT",
      secretAccessKey: "contract-secret-access-key",
    });
    assert.equal(on.uploadLimits.maxBytes, 2048);
    assert.deepEqual(on.uploadLimits.contentTypes, ["image/*", "application/pdf"]);
    assert.equal(on.uploadLimits.downloadUrlTtlSeconds, 60);
    assert.equal(on.uploadLimits.uploadUrlTtlSeconds, 300, "the schema's default");
    assert.equal(read(exampleCluster()).objectStore, undefined);
  });

  it("the probe and scrape paths the operator writes are served by each workload", async () => {
    const c = exampleCluster();
    for (const component of COMPONENTS) {
      const { container, annotations } = checkWorkload(c, component);
      const paths = [...probePaths(container), annotations["prometheus.io/path"] ?? ""];
      if (component === "gateway") {
        const cluster = await startCluster({ port: 0, host: "127.0.0.1" });
        try {
          const port = Number(new URL(cluster.urls[0] ?? "").port);
          for (const p of paths) assert.notEqual(await httpStatus(port, p), 404, `gateway ${p}`);
        } finally {
          await cluster.stop();
        }
      } else {
        // the forwarder and the matcher serve their probes from the shared probe server
        const server = probeServer(createMetrics({ defaultMetrics: false }), () => true);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
          const { port } = server.address() as AddressInfo;
          for (const p of paths) assert.equal(await httpStatus(port, p), 200, `${component} ${p}`);
        } finally {
          await new Promise((r) => server.close(r));
        }
      }
    }
  });
});
