// The operator as real child processes (`node operator/src/main.ts`), authenticated as a
// ServiceAccount bound ONLY to the chart's RBAC: a SIGKILL mid-reconcile and a restart converge
// with no duplicate work, and of two replicas only the Lease holder reconciles.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiException, CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { loadMigrations } from "#contract/schema/migrate";
import { Workload } from "../testkit/index.ts";
import {
  Cluster,
  exampleChatCluster,
  type TestCluster,
  teardown,
  testEnv,
  topicPartitions,
  waitForOperator,
  withCassandra,
} from "./harness.ts";
import { type Restricted, restrictedIdentity } from "./restricted.ts";

const cluster = new Cluster();

async function metric(w: Workload, name: string): Promise<number> {
  const text = await (
    await fetch(`${w.url}/metrics`, { signal: AbortSignal.timeout(2000) })
  ).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

/** How many migrations the project has: each is recorded once. */
async function migrationCount(): Promise<number> {
  const loaded = await loadMigrations();
  if (!loaded.ok) throw new Error(loaded.error.message);
  return loaded.value.length;
}

const reconciles = (w: Workload) => metric(w, "switchboard_operator_reconciles_total");
const leading = (w: Workload) => metric(w, "switchboard_operator_leader");

/** Runs the test body; when it fails, shows what the operator processes said. */
const showingOutput = (workloads: Workload[], body: () => Promise<void>) => async () => {
  try {
    await body();
  } catch (err) {
    for (const w of workloads) console.error(`--- ${w.name}\n${w.tail(40)}`);
    throw err;
  }
};

describe("operator processes (restricted RBAC, SIGKILL, two replicas)", () => {
  let namespace: string;
  let identity: Restricted;
  const workloads: Workload[] = [];
  const clusters: TestCluster[] = [];

  const start = async (name: string) => {
    const w = await Workload.start(
      name,
      "operator/src/main.ts",
      testEnv(namespace, { KUBECONFIG: identity.kubeconfigPath, POD_NAME: name }),
    );
    workloads.push(w);
    return w;
  };

  before(async () => {
    await cluster.installCrd();
    namespace = await cluster.createNamespace("opproc");
    await cluster.createJwtSecret(namespace);
    identity = await restrictedIdentity(cluster, namespace);
  });

  after(async () => {
    for (const w of workloads) await w.kill();
    for (const t of clusters) await teardown(cluster, t, namespace);
    await teardown(cluster, undefined, namespace);
    await identity?.cleanup();
  });

  it("the operator's identity can do what the chart's role grants and nothing else", async () => {
    const core = identity.kubeConfig.makeApiClient(CoreV1Api);
    await assert.rejects(
      core.listNamespacedPod({ namespace }),
      (err: unknown) => err instanceof ApiException && err.code === 403,
    );
    await assert.rejects(
      core.listNamespacedSecret({ namespace }),
      (err: unknown) => err instanceof ApiException && err.code === 403,
    );
    await assert.rejects(
      core.listNamespacedPod({ namespace: "default" }),
      (err: unknown) => err instanceof ApiException && err.code === 403,
    );
  });

  it(
    "killing the operator mid-reconcile (SIGKILL) and starting it again converges with no duplicate work",
    showingOutput(workloads, async () => {
      // no HPA here: the controller-manager's HPA controller would scale the gateway itself and
      // bump its Deployment's generation, which is not the operator's work
      const t = await exampleChatCluster(namespace, { gateway: { replicas: 2 } });
      clusters.push(t);
      const first = await start("op-a");
      await waitForOperator("op-a to lead", async () =>
        (await leading(first)) === 1 ? true : undefined,
      );
      await cluster.apply(t.object);
      // the first step (the finalizer) is done: topic, schema and workloads are under way
      await waitForOperator(
        "the finalizer",
        async () =>
          (await cluster.getChatCluster(namespace, t.name)).metadata.finalizers?.length
            ? true
            : undefined,
        20,
      );
      await first.kill();

      const second = await start("op-b");
      const c = await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      assert.equal(
        c.status?.conditions?.find((x) => x.type === "CassandraSchemaReady")?.status,
        "True",
      );
      assert.equal(
        c.status?.conditions?.find((x) => x.type === "KafkaTopicsReady")?.status,
        "True",
      );
      assert.equal(await topicPartitions(t.topic), 6);

      const snapshot = async () => {
        const rows = await withCassandra(
          async (cl) =>
            (await cl.execute(`SELECT version, applied_at FROM ${t.keyspace}.schema_migrations`))
              .rows,
        );
        const deployments = (await cluster.apps.listNamespacedDeployment({ namespace })).items
          .filter((d) => d.metadata?.labels?.["app.kubernetes.io/instance"] === t.name)
          .map((d) => `${d.metadata?.name}@${d.metadata?.generation}`)
          .sort();
        const replicaSets = (
          await cluster.apps.listNamespacedReplicaSet({ namespace })
        ).items.filter((r) => r.metadata?.labels?.["app.kubernetes.io/instance"] === t.name).length;
        return {
          migrations: rows
            .map((r) => `${r.get("version")}@${(r.get("applied_at") as Date).toISOString()}`)
            .sort(),
          deployments,
          replicaSets,
          topicCreated: await cluster.events(namespace, "TopicCreated"),
          migrationsApplied: await cluster.events(namespace, "MigrationsApplied"),
        };
      };
      const converged = await snapshot();
      assert.equal(
        converged.migrations.length,
        await migrationCount(),
        `each migration recorded once: ${converged.migrations}`,
      );
      assert.deepEqual(converged.deployments, [
        `${t.name}-forwarder@1`,
        `${t.name}-gateway@1`,
        `${t.name}-matcher@1`,
        `${t.name}-notifier@1`,
      ]);
      assert.equal(converged.replicaSets, 4, "one ReplicaSet per Deployment: no template churn");
      assert.ok(
        converged.topicCreated <= 2 && converged.migrationsApplied <= 1, // two topics, once each
        JSON.stringify(converged),
      );

      // one more restart on the converged cluster changes nothing
      await second.stop();
      assert.equal(second.exited?.code, 0, "SIGTERM drains and exits cleanly");
      const third = await start("op-c");
      await waitForOperator("op-c to reconcile", async () =>
        (await reconciles(third)) > 0 ? true : undefined,
      );
      await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      assert.deepEqual(await snapshot(), converged);
      await third.stop();
    }),
  );

  it(
    "two operator replicas never reconcile at once: only the Lease holder works, the other takes over when it dies",
    showingOutput(workloads, async () => {
      const t = await exampleChatCluster(namespace);
      clusters.push(t);
      const a = await start("op-1");
      const b = await start("op-2");
      const both = [a, b];
      const leader = await waitForOperator("one leader", async () => {
        const l = await Promise.all(both.map(leading));
        return l[0] === 1 && l[1] === 0 ? a : l[0] === 0 && l[1] === 1 ? b : undefined;
      });
      const standby = leader === a ? b : a;
      await cluster.apply(t.object);
      await cluster.waitCondition(namespace, t.name, "Ready", "False", "PodsNotReady");
      assert.ok((await reconciles(leader)) > 0);
      assert.equal(await reconciles(standby), 0, "the standby reconciled nothing");
      assert.equal(await leading(standby), 0);
      const lease = await cluster.kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace, name: "switchboard-operator" });
      assert.equal(lease.spec?.holderIdentity, leader.name);

      await leader.kill();
      await waitForOperator("the standby to take the Lease", async () =>
        (await leading(standby)) === 1 ? true : undefined,
      );
      await cluster.patchSpec(namespace, t.name, { forwarder: { replicas: 3 } });
      await waitForOperator("the new leader to apply the edit", async () => {
        const d = await cluster.apps.readNamespacedDeployment({
          namespace,
          name: `${t.name}-forwarder`,
        });
        return d.spec?.replicas === 3 ? true : undefined;
      });
      await waitForOperator("the new leader's reconcile to complete", async () =>
        (await reconciles(standby)) > 0 ? true : undefined,
      );
      await standby.stop();
    }),
  );
});
