// The operator (in-process, watching one namespace per test) against the real kube-apiserver
// and controller-manager, real Kafka and real Cassandra. No kubelet runs here, so pods stay
// Pending: the status must say so (Ready=False, PodsNotReady, with counts).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { ApiException, CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { loadMigrations } from "#contract/schema/migrate";
import type { Operator } from "../../operator/src/runtime/operator.ts";
import { kafkaBrokers } from "../testkit/index.ts";
import {
  Cluster,
  exampleChatCluster,
  kafkaAdmin,
  startInProcess,
  type TestCluster,
  tablesOf,
  teardown,
  topicPartitions,
  waitForOperator,
  withCassandra,
} from "./harness.ts";

const cluster = new Cluster();

const apiMessage = (err: unknown): string =>
  err instanceof ApiException
    ? String((err.body as { message?: string })?.message ?? err.body)
    : String(err);

interface Scenario {
  readonly namespace: string;
  readonly operator: Operator;
  t: TestCluster | undefined;
  readonly deployment: (name: string) => Promise<V1Deployment>;
}

// independent namespaces, operators and names: the scenarios run side by side
/** the highest version among workloads/contract/schema/migrations: what a migrated keyspace is at */
async function latestSchemaVersion(): Promise<number> {
  const loaded = await loadMigrations();
  if (!loaded.ok) throw new Error(loaded.error.message);
  return Math.max(...loaded.value.map((m) => m.version));
}

describe("operator reconcile (real API server, Kafka, Cassandra)", { concurrency: 4 }, () => {
  before(async () => {
    await cluster.installCrd();
  });

  /** A test in a namespace of its own with its own in-process operator, cleaned up after. */
  const scenario = (body: (s: Scenario) => Promise<void>) => async () => {
    const namespace = await cluster.createNamespace("op");
    await cluster.createJwtSecret(namespace);
    const operator = await startInProcess(namespace);
    const s: Scenario = {
      namespace,
      operator,
      t: undefined,
      deployment: (name) => cluster.apps.readNamespacedDeployment({ namespace, name }),
    };
    try {
      await body(s);
    } finally {
      await operator.stop();
      await teardown(cluster, s.t, namespace);
    }
  };

  it(
    "applying the example yields every owned object, the topic, the keyspace with tables and truthful conditions",
    scenario(async (s) => {
      const { namespace, deployment } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      await cluster.apply(t.object);
      const c = await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      const cond = Object.fromEntries((c.status?.conditions ?? []).map((x) => [x.type, x]));
      assert.equal(cond.KafkaTopicsReady?.status, "True");
      assert.equal(cond.CassandraSchemaReady?.status, "True");
      assert.equal(cond.Degraded?.status, "False");
      assert.equal(cond.Progressing?.status, "True");
      // read over CQL from the stack's one node: its commit log mode, then the example's 1 replica
      const durable = cond.AcknowledgedWritesDurable;
      assert.equal(durable?.status, "False", durable?.message);
      assert.match(
        `${durable?.reason}: ${durable?.message}`,
        /^CommitLogNotDurable: .*commitlog_sync: periodic|^ReplicationTooLow: .*1 replica\(s\) in datacenter1/,
      );
      // the gateway's count is the HPA's to set: 1 until it has scaled the Deployment to minReplicas
      assert.match(
        cond.Ready?.message ?? "",
        /gateway 0\/[12], forwarder 0\/2, matcher 0\/1, notifier 0\/1/,
      );
      assert.deepEqual(c.status?.forwarder, { desiredReplicas: 2, readyReplicas: 0 });
      assert.deepEqual(c.status?.topics, [t.topic, t.deliveriesTopic]);
      assert.equal(c.status?.keyspace, t.keyspace);
      assert.equal(c.status?.schemaVersion, await latestSchemaVersion());
      assert.equal(c.status?.endpoints?.gateway, `http://${t.name}-gateway.${namespace}.svc:80`);
      assert.deepEqual(c.metadata.finalizers, ["chat.switchboard.dev/cleanup"]);

      for (const k of ["gateway", "forwarder", "matcher", "notifier"]) {
        const d = await deployment(`${t.name}-${k}`);
        assert.equal(d.metadata?.ownerReferences?.[0]?.uid, c.metadata.uid);
        assert.ok(
          d.metadata?.managedFields?.some(
            (f) => f.manager === "switchboard-operator" && f.operation === "Apply",
          ),
        );
        await cluster.core.readNamespacedService({ namespace, name: `${t.name}-${k}` });
        await cluster.objects.read({
          apiVersion: "policy/v1",
          kind: "PodDisruptionBudget",
          metadata: { namespace, name: `${t.name}-${k}` },
        });
        await cluster.objects.read({
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: { namespace, name: `${t.name}-${k}` },
        });
      }
      await cluster.objects.read({
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { namespace, name: `${t.name}-gateway` },
      });
      await cluster.core.readNamespacedConfigMap({ namespace, name: `${t.name}-config` });
      await cluster.core.readNamespacedServiceAccount({ namespace, name: `${t.name}-switchboard` });
      // the controller-manager acted on them: ReplicaSets exist (pods stay Pending: no kubelet)
      await waitForOperator("a ReplicaSet of the forwarder", async () => {
        const rs = await cluster.apps.listNamespacedReplicaSet({
          namespace,
          labelSelector: "app.kubernetes.io/component=forwarder",
        });
        return rs.items.length > 0 ? true : undefined;
      });

      assert.equal(await topicPartitions(t.topic), 6);
      const tables = await tablesOf(t.keyspace);
      for (const table of ["messages", "rooms", "schema_migrations", "users"]) {
        assert.ok(
          tables.includes(table),
          `keyspace ${t.keyspace} lacks table ${table}: ${tables.join(",")}`,
        );
      }
      // one event per topic (messages and deliveries), recorded after the topics are made
      await waitForOperator("a TopicCreated event for each of the two topics", async () =>
        (await cluster.events(namespace, "TopicCreated")) === 2 ? true : undefined,
      );
      assert.equal(await cluster.events(namespace, "MigrationsApplied"), 1);
    }),
  );

  it(
    "editing replicas, partitions, retention and image converges; removing autoscaling removes the HPA",
    scenario(async (s) => {
      const { namespace, deployment } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      await cluster.apply(t.object);
      const first = await cluster.waitCondition(namespace, t.name, "KafkaTopicsReady", "True");
      // the topics are ready before the keyspace and the Deployments (a run under load read the
      // Deployment right after the condition and got 404)
      const before = await waitForOperator("the forwarder Deployment", () =>
        deployment(`${t.name}-forwarder`).catch(() => undefined),
      );
      const hashBefore =
        before.spec?.template.metadata?.annotations?.["chat.switchboard.dev/config-hash"];

      await cluster.patchSpec(namespace, t.name, {
        forwarder: { replicas: 3 },
        gateway: { autoscaling: null, replicas: 4 },
        kafka: { partitions: 9, retentionMs: 3_600_000 },
        image: { tag: "0.2.0" },
        observability: { logLevel: "debug" },
      });
      await cluster.waitCondition(namespace, t.name, "KafkaTopicsReady", "True");
      const c = await waitForOperator("the edit to converge", async () => {
        const got = await cluster.getChatCluster(namespace, t?.name ?? "");
        return got.metadata.generation > first.metadata.generation &&
          got.status?.observedGeneration === got.metadata.generation &&
          got.status?.gateway?.desiredReplicas === 4 &&
          got.status?.forwarder?.desiredReplicas === 3
          ? got
          : undefined;
      });
      assert.equal(c.status?.conditions?.find((x) => x.type === "Degraded")?.status, "False");
      const fwd = await deployment(`${t.name}-forwarder`);
      assert.equal(fwd.spec?.replicas, 3);
      assert.equal(
        fwd.spec?.template.spec?.containers[0]?.image,
        "ghcr.io/switchboard/workloads:0.2.0",
      );
      assert.notEqual(
        fwd.spec?.template.metadata?.annotations?.["chat.switchboard.dev/config-hash"],
        hashBefore,
        "a config change rolls the pods",
      );
      assert.equal((await deployment(`${t.name}-gateway`)).spec?.replicas, 4);
      await assert.rejects(
        cluster.objects.read({
          apiVersion: "autoscaling/v2",
          kind: "HorizontalPodAutoscaler",
          metadata: { namespace, name: `${t.name}-gateway` },
        }),
        (err: unknown) => err instanceof ApiException && err.code === 404,
      );
      assert.equal(await topicPartitions(t.topic), 9);
      const admin = kafkaAdmin();
      await admin.connect();
      try {
        const cfg = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: 2, name: t.topic, configNames: ["retention.ms"] }],
        });
        assert.equal(cfg.resources[0]?.configEntries[0]?.configValue, "3600000");
        // drift made behind the operator's back is corrected on the next reconcile
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            { type: 2, name: t.topic, configEntries: [{ name: "retention.ms", value: "120000" }] },
          ],
        });
        await cluster.patchSpec(namespace, t.name, { matcher: { replicas: 2 } });
        await waitForOperator("retention.ms drift to be corrected", async () => {
          const now = await admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: 2, name: t?.topic ?? "", configNames: ["retention.ms"] }],
          });
          return now.resources[0]?.configEntries[0]?.configValue === "3600000" ? true : undefined;
        });
      } finally {
        await admin.disconnect();
      }
      assert.ok((await cluster.events(namespace, "PartitionsGrown")) >= 1);
    }),
  );

  it(
    "a partition shrink is refused at admission with the CEL message, and by the operator with Degraded",
    scenario(async (s) => {
      const { namespace } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      // the topic already has more partitions than the spec asks for (grown by hand, say)
      const admin = kafkaAdmin();
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: t.topic, numPartitions: 8, replicationFactor: 1 }],
      });
      await admin.disconnect();
      await cluster.apply(t.object);
      const c = await cluster.waitCondition(
        namespace,
        t.name,
        "Degraded",
        "True",
        "PartitionShrinkRefused",
      );
      const kafka = c.status?.conditions?.find((x) => x.type === "KafkaTopicsReady");
      assert.equal(kafka?.status, "False");
      assert.match(
        kafka?.message ?? "",
        /has 8 partitions and the spec asks for 6.*set kafka.partitions to 8 or more/,
      );
      assert.equal(c.status?.conditions?.find((x) => x.type === "Ready")?.status, "False");
      assert.equal(await topicPartitions(t.topic), 8, "nothing was removed");
      assert.ok((await cluster.events(namespace, "PartitionShrinkRefused")) >= 1);

      await assert.rejects(
        cluster.patchSpec(namespace, t.name, { kafka: { partitions: 3 } }),
        (err: unknown) => {
          assert.match(apiMessage(err), /kafka.partitions may grow but never shrink/);
          return true;
        },
      );
      // growing the spec to the topic's size clears the condition
      await cluster.patchSpec(namespace, t.name, { kafka: { partitions: 8 } });
      await cluster.waitCondition(namespace, t.name, "Degraded", "False", "AsExpected");
    }),
  );

  it(
    "invalid specs are rejected by the API server with the CEL message",
    scenario(async (s) => {
      const { namespace } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      const bad = async (spec: Record<string, unknown>, message: RegExp) => {
        await assert.rejects(
          cluster.apply({ ...t?.object, spec: { ...t?.object.spec, ...spec } } as never),
          (err: unknown) => {
            assert.match(apiMessage(err), message);
            return true;
          },
        );
      };
      await bad(
        { gateway: { autoscaling: { minReplicas: 5, maxReplicas: 2 } } },
        /autoscaling.minReplicas must not exceed autoscaling.maxReplicas/,
      );
      await bad(
        { redis: { url: "redis://r:6379", urlSecretRef: { name: "r", key: "u" } } },
        /redis needs exactly one of url and urlSecretRef/,
      );
      await bad(
        { cassandra: { contactPoints: ["c"], replication: { class: "SimpleStrategy" } } },
        /SimpleStrategy needs replicationFactor/,
      );
      await bad({ kafka: { bootstrapServers: ["k:9092"], partitions: 0 } }, /partitions/);
      await cluster.apply(t.object);
      await assert.rejects(
        cluster.patchSpec(namespace, t.name, { cassandra: { keyspace: "other_ks" } }),
        (err: unknown) => {
          assert.match(apiMessage(err), /cassandra.keyspace is immutable/);
          return true;
        },
      );
    }),
  );

  it(
    "an in-process operator whose Lease is taken stands by, leads again once it is free, and reconciles again",
    scenario(async (s) => {
      const { namespace, operator, deployment } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      await cluster.apply(t.object);
      await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      // another identity takes the Lease once and never renews it (a replica that died at once)
      const leases = cluster.kc.makeApiClient(CoordinationV1Api);
      // read, change, replace; the operator renewing in between makes it a 409: read again
      for (let attempt = 1; ; attempt++) {
        const lease = await leases.readNamespacedLease({ namespace, name: "switchboard-operator" });
        try {
          await leases.replaceNamespacedLease({
            namespace,
            name: "switchboard-operator",
            body: {
              ...lease,
              spec: { ...lease.spec, holderIdentity: "a-thief", renewTime: new V1MicroTime() },
            },
          });
          break;
        } catch (err) {
          if ((err as { code?: number }).code !== 409 || attempt === 10) throw err;
        }
      }
      await waitForOperator("the operator to lose the Lease", () =>
        operator.leading ? undefined : true,
      );
      await waitForOperator("the operator to lead again", () =>
        operator.leading ? true : undefined,
      );
      const before = await deployment(`${t.name}-gateway`);
      await cluster.apps.deleteNamespacedDeployment({ namespace, name: `${t.name}-gateway` });
      await waitForOperator("the gateway Deployment to come back", async () => {
        const d = await deployment(`${t.name}-gateway`).catch(() => undefined);
        return d !== undefined && d.metadata?.uid !== before.metadata?.uid ? d : undefined;
      });
    }),
  );

  it(
    "deleting an owned Deployment by hand brings it back",
    scenario(async (s) => {
      const { namespace, deployment } = s;
      const t = await exampleChatCluster(namespace);
      s.t = t;
      await cluster.apply(t.object);
      await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      const before = await deployment(`${t.name}-gateway`);
      await cluster.apps.deleteNamespacedDeployment({ namespace, name: `${t.name}-gateway` });
      const back = await waitForOperator("the gateway Deployment to come back", async () => {
        const d = await deployment(`${t?.name}-gateway`).catch(() => undefined);
        return d !== undefined && d.metadata?.uid !== before.metadata?.uid ? d : undefined;
      });
      assert.equal(back.metadata?.ownerReferences?.[0]?.name, t.name);
    }),
  );

  it(
    "an unreachable Kafka gives Degraded KafkaUnreachable and a backoff, not a crash; fixing the spec converges",
    scenario(async (s) => {
      const { namespace, operator } = s;
      const t = await exampleChatCluster(namespace, {
        kafka: { bootstrapServers: ["127.0.0.1:1"] },
      });
      s.t = t;
      await cluster.apply(t.object);
      const c = await cluster.waitCondition(
        namespace,
        t.name,
        "Degraded",
        "True",
        "KafkaUnreachable",
      );
      assert.match(
        c.status?.conditions?.find((x) => x.type === "Degraded")?.message ?? "",
        /cannot reach Kafka at 127.0.0.1:1/,
      );
      await waitForOperator("a retry after backoff", async () =>
        ((await operator?.metrics.errors.get())?.values.find((v) => v.labels.step === "kafka")
          ?.value ?? 0) >= 2
          ? true
          : undefined,
      );
      assert.equal(operator?.leading, true, "the operator keeps running");
      await cluster.patchSpec(namespace, t.name, { kafka: { bootstrapServers: kafkaBrokers() } });
      await cluster.waitCondition(namespace, t.name, "Degraded", "False", "AsExpected");
    }),
  );

  it(
    "an unreachable Cassandra gives Degraded CassandraUnreachable with the address tried, and the topic is still made",
    scenario(async (s) => {
      const { namespace } = s;
      const t = await exampleChatCluster(namespace, {
        cassandra: { contactPoints: ["127.0.0.1:1"] },
      });
      s.t = t;
      await cluster.apply(t.object);
      const c = await cluster.waitCondition(
        namespace,
        t.name,
        "Degraded",
        "True",
        "CassandraUnreachable",
      );
      const schema = c.status?.conditions?.find((x) => x.type === "CassandraSchemaReady");
      assert.equal(schema?.status, "False");
      assert.match(schema?.message ?? "", /cannot reach Cassandra at 127.0.0.1:1/);
      assert.equal(
        c.status?.conditions?.find((x) => x.type === "KafkaTopicsReady")?.status,
        "True",
      );
      assert.equal(c.status?.conditions?.find((x) => x.type === "Ready")?.status, "False");
      assert.ok((await cluster.events(namespace, "CassandraUnreachable")) >= 1);
    }),
  );

  for (const policy of ["Retain", "Delete"] as const) {
    it(
      `deleting the ChatCluster with deletionPolicy ${policy} ${policy === "Retain" ? "keeps" : "removes"} the topic and keyspace; owned objects are garbage-collected`,
      scenario(async (s) => {
        const { namespace } = s;
        const t = await exampleChatCluster(namespace, { deletionPolicy: policy });
        s.t = t;
        await cluster.apply(t.object);
        await cluster.waitCondition(namespace, t.name, "CassandraSchemaReady", "True");
        await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
        await cluster.deleteChatCluster(namespace, t.name);
        await waitForOperator("the ChatCluster to be gone", async () => {
          try {
            await cluster.getChatCluster(namespace, t?.name ?? "");
            return undefined;
          } catch (err) {
            return err instanceof ApiException && err.code === 404 ? true : undefined;
          }
        });
        await waitForOperator("the garbage collector to delete the Deployments", async () => {
          const list = await cluster.apps.listNamespacedDeployment({ namespace });
          return list.items.length === 0 ? true : undefined;
        });
        const keyspaces = await withCassandra(async (cl) =>
          (await cl.execute("SELECT keyspace_name FROM system_schema.keyspaces")).rows.map(
            (r) => r.get("keyspace_name") as string,
          ),
        );
        if (policy === "Retain") {
          assert.equal(await topicPartitions(t.topic), 6);
          assert.ok(keyspaces.includes(t.keyspace));
        } else {
          assert.equal(await topicPartitions(t.topic), undefined);
          assert.ok(!keyspaces.includes(t.keyspace));
          assert.equal(await cluster.events(namespace, "KeyspaceDropped"), 1);
        }
      }),
    );
  }
});
