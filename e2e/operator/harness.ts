// Helpers of the operator suites: the CRD installed on the real API server, a namespace per
// test, an example-shaped ChatCluster with unique topic prefix and keyspace, the operator run
// in-process or as a child process, waiting on conditions, and cleanup of topics and keyspaces.
import { readFile } from "node:fs/promises";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { Client } from "cassandra-driver";
import { load } from "js-yaml";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { chatClusterCrd } from "../../operator/src/api/crd.ts";
import { GROUP, PLURAL, VERSION } from "../../operator/src/api/schema.ts";
import type { OperatorSettings } from "../../operator/src/runtime/config.ts";
import { Operator } from "../../operator/src/runtime/operator.ts";
import {
  cassandraContactPoints,
  cassandraLocalDc,
  kafkaBrokers,
  kubeconfigPath,
  redisUrl,
  uniqueK8sName,
  uniqueName,
  waitFor,
} from "../testkit/index.ts";

export const FIELD_MANAGER = "switchboard-e2e";

/**
 * How long a test waits for the operator to act. Sized to CI's machine: 2 cores with the whole
 * suite running beside other work (load average near 20), where one reconcile's Kafka, Cassandra
 * and API calls each can take seconds; on a quiet machine every wait ends in a few seconds.
 */
export const OPERATOR_WAIT_MS = 120_000;

/** waitFor with the operator's deadline. */
export function waitForOperator<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 200,
): Promise<T> {
  return waitFor(what, probe, { timeoutMs: OPERATOR_WAIT_MS, intervalMs });
}

export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/**
 * client-node serialises a CRD through its V1JSONSchemaProps model, whose properties are
 * named x_kubernetes_validations etc.: keys spelled as in YAML would be dropped silently.
 */
function clientModelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clientModelKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.startsWith("x-kubernetes-") ? k.replaceAll("-", "_") : k,
      clientModelKeys(v),
    ]),
  );
}

export class Cluster {
  readonly kc = adminKubeConfig();
  readonly core = this.kc.makeApiClient(CoreV1Api);
  readonly apps = this.kc.makeApiClient(AppsV1Api);
  readonly custom = this.kc.makeApiClient(CustomObjectsApi);
  readonly objects = KubernetesObjectApi.makeApiClient(this.kc);

  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.objects.patch(
      obj,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      PatchStrategy.ServerSideApply,
    );
  }

  /** Installs (server-side applies) the CRD of crds/ and waits until it is served. */
  async installCrd(): Promise<void> {
    const crd = clientModelKeys(chatClusterCrd()) as KubernetesObject;
    await this.apply(crd);
    const ext = this.kc.makeApiClient(ApiextensionsV1Api);
    await waitFor("the ChatCluster CRD to be Established", async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata?.name ?? "" });
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? true
        : undefined;
    });
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = uniqueK8sName(prefix);
    await this.core.createNamespace({
      body: { metadata: { name, labels: { "switchboard.dev/test": "operator" } } },
    });
    return name;
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.core.deleteNamespace({ name }).catch(() => undefined);
  }

  async createJwtSecret(namespace: string, name = "demo-jwt"): Promise<void> {
    await this.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name }, stringData: { secret: "0123456789abcdef0123456789abcdef-e2e" } },
    });
  }

  async getChatCluster(namespace: string, name: string): Promise<ChatClusterObject> {
    return (await this.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    })) as ChatClusterObject;
  }

  /** A JSON merge patch of the ChatCluster's spec (as `kubectl patch --type merge` does). */
  async patchSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  async deleteChatCluster(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    });
  }

  async events(namespace: string, reason: string): Promise<number> {
    const list = await this.core.listNamespacedEvent({ namespace });
    return list.items.filter((e) => e.reason === reason && e.involvedObject.kind === "ChatCluster")
      .length;
  }

  /** Waits until the condition has the status (and reason) for the current generation. */
  async waitCondition(
    namespace: string,
    name: string,
    type: string,
    status: string,
    reason?: string,
    timeoutMs = OPERATOR_WAIT_MS,
  ): Promise<ChatClusterObject> {
    return waitFor(
      `${namespace}/${name} ${type}=${status}${reason ? ` (${reason})` : ""}`,
      async () => {
        const c = await this.getChatCluster(namespace, name);
        const cond = c.status?.conditions?.find((x) => x.type === type);
        return c.status?.observedGeneration === c.metadata.generation &&
          cond?.status === status &&
          (reason === undefined || cond.reason === reason)
          ? c
          : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }
}

export interface ChatClusterObject extends KubernetesObject {
  metadata: {
    name: string;
    namespace: string;
    generation: number;
    uid: string;
    finalizers?: string[];
    resourceVersion: string;
  };
  spec: Record<string, unknown> & { kafka: { partitions: number } };
  status?: {
    observedGeneration?: number;
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastTransitionTime: string;
    }[];
    gateway?: { desiredReplicas: number; readyReplicas: number };
    forwarder?: { desiredReplicas: number; readyReplicas: number };
    matcher?: { desiredReplicas: number; readyReplicas: number };
    notifier?: { desiredReplicas: number; readyReplicas: number };
    topics?: string[];
    keyspace?: string;
    schemaVersion?: number;
    endpoints?: { gateway?: string };
  };
}

export interface TestCluster {
  readonly name: string;
  readonly namespace: string;
  readonly topic: string;
  /** the fallback delivery topic the operator creates beside the messages topic */
  readonly deliveriesTopic: string;
  readonly keyspace: string;
  readonly object: ChatClusterObject;
}

/** examples/chatcluster.yaml pointed at this stack, with a unique topic prefix and keyspace. */
export async function exampleChatCluster(
  namespace: string,
  spec: { kafka?: object; cassandra?: object; [k: string]: unknown } = {},
): Promise<TestCluster> {
  const text = await readFile(new URL("../../examples/chatcluster.yaml", import.meta.url), "utf8");
  const example = load(text) as ChatClusterObject;
  const name = uniqueK8sName("chat").slice(0, 40);
  const prefix = uniqueName("op");
  const keyspace = uniqueName("op");
  const { kafka = {}, cassandra = {}, ...rest } = spec;
  const object = {
    ...example,
    metadata: { ...example.metadata, name, namespace },
    spec: {
      ...example.spec,
      ...rest,
      kafka: {
        ...(example.spec.kafka as object),
        bootstrapServers: kafkaBrokers(),
        topicPrefix: prefix,
        ...kafka,
      },
      cassandra: {
        ...(example.spec.cassandra as object),
        contactPoints: cassandraContactPoints(),
        localDatacenter: cassandraLocalDc(),
        keyspace,
        ...cassandra,
      },
      redis: { url: redisUrl() },
    },
  } as unknown as ChatClusterObject;
  return {
    name,
    namespace,
    topic: `${prefix}.messages`,
    deliveriesTopic: `${prefix}.deliveries`,
    keyspace,
    object,
  };
}

/**
 * Settings of a test operator: one namespace, short backoff timings, and client-go's default
 * Lease timings (15 s, renew deadline 10 s, retry 2 s): with 6 s / 4 s / 0.5 s, whose Lease calls
 * time out after 1 s, in-process operators on a loaded CI machine lost their Lease.
 */
export function testSettings(
  namespace: string,
  over: Partial<OperatorSettings> = {},
): OperatorSettings {
  return {
    watchNamespace: namespace,
    port: 0,
    host: "127.0.0.1",
    logLevel: "warn",
    identity: uniqueK8sName("op"),
    lease: {
      namespace,
      name: "switchboard-operator",
      durationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    queue: { concurrency: 2, baseDelayMs: 200, maxDelayMs: 2_000, maxKeys: 100 },
    resyncMs: 60_000,
    kubeRequestTimeoutMs: 15_000,
    kafka: { connectionTimeoutMs: 5_000, requestTimeoutMs: 15_000 },
    cassandra: {
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 30_000,
      lockTtlSeconds: 5,
      lockWaitMs: 30_000,
    },
    shutdownTimeoutMs: 20_000,
    otlpEndpoint: undefined,
    ...over,
  };
}

/** The same settings as environment variables, for `node operator/src/main.ts`. */
export function testEnv(
  namespace: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    WATCH_NAMESPACE: namespace,
    LEASE_NAMESPACE: namespace,
    LEASE_DURATION_MS: "15000",
    LEASE_RENEW_DEADLINE_MS: "10000",
    LEASE_RETRY_PERIOD_MS: "2000",
    BACKOFF_BASE_MS: "200",
    BACKOFF_MAX_MS: "2000",
    KAFKA_CONNECTION_TIMEOUT_MS: "5000",
    MIGRATION_LOCK_TTL_SECONDS: "5",
    MIGRATION_LOCK_WAIT_MS: "30000",
    LOG_LEVEL: "info",
    ...extra,
  };
}

export async function startInProcess(namespace: string): Promise<Operator> {
  const op = new Operator({
    settings: testSettings(namespace),
    log: pino({ level: "warn", base: { test: namespace } }),
    kubeConfig: adminKubeConfig(),
  });
  await op.start();
  await waitForOperator("the in-process operator to lead", () => (op.leading ? true : undefined));
  return op;
}

export function kafkaAdmin() {
  return new Kafka({
    clientId: "operator-e2e",
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();
}

export async function withCassandra<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    contactPoints: cassandraContactPoints(),
    localDataCenter: cassandraLocalDc(),
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.shutdown();
  }
}

export async function tablesOf(keyspace: string): Promise<string[]> {
  return withCassandra(async (c) => {
    const rs = await c.execute(
      "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
      [keyspace],
      { prepare: true },
    );
    return rs.rows.map((r) => r.get("table_name") as string).sort();
  });
}

export async function topicPartitions(topic: string): Promise<number | undefined> {
  const admin = kafkaAdmin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0]?.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

/** Removes what a test's ChatCluster left in Kafka and Cassandra (Retain keeps them). */
export async function dropBackends(t: TestCluster): Promise<void> {
  const admin = kafkaAdmin();
  await admin.connect().catch(() => undefined);
  await admin.deleteTopics({ topics: [t.topic, t.deliveriesTopic] }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await withCassandra((c) => c.execute(`DROP KEYSPACE IF EXISTS ${t.keyspace}`)).catch(
    () => undefined,
  );
}

export const silentLog = pino({ level: "silent" });

/** Cleanup: the ChatCluster without its finalizer (no operator may run any more), then the namespace. */
export async function teardown(
  cluster: Cluster,
  t: TestCluster | undefined,
  namespace: string,
): Promise<void> {
  if (t !== undefined) {
    await cluster.custom
      .patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name: t.name,
          body: { metadata: { finalizers: null } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )
      .catch(() => undefined);
    await dropBackends(t);
  }
  await cluster.deleteNamespace(namespace);
}
