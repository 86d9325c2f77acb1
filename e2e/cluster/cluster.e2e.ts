// Switchboard the way users run it: the chart installed with helm, a ChatCluster applied, and
// every Switchboard process a Pod from our images. One suite, run against whatever KUBECONFIG
// it is given (hack/cluster here, kind for users with Docker): `npm run test:e2e`.
// The tests run in order and build on each other; each prints the cluster's Pods at its key
// point. Nothing here starts a Switchboard process on the host.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import {
  type ChatClusterObject,
  dropBackends,
  exampleChatCluster,
  kafkaAdmin,
  type TestCluster,
  teardown,
  withCassandra,
} from "../operator/harness.ts";
import { Rest, type Session, uniqueName, waitFor } from "../testkit/index.ts";
import { exactlyOnceInOrder, Member } from "../testkit/member.ts";
import { readSuiteEnv, repoDir } from "./env.ts";
import { isReady, run, SuiteCluster, shell } from "./kube.ts";

const env = readSuiteEnv();
const cluster = new SuiteCluster(env);
const RELEASE = "switchboard";
const MINUTES = 60_000;

const componentSelector = (t: TestCluster, component: string) =>
  `app.kubernetes.io/name=switchboard,app.kubernetes.io/instance=${t.name},app.kubernetes.io/component=${component}`;

/** examples/chatcluster.yaml, pointed at the backends as the Pods see them, sized for one small node */
async function chatCluster(
  namespace: string,
  over: { deletionPolicy?: "Retain" | "Delete"; replicas?: [number, number, number] } = {},
): Promise<TestCluster> {
  const [gateways, forwarders, matchers] = over.replicas ?? [2, 2, 1];
  const small = { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "384Mi" } };
  const t = await exampleChatCluster(namespace, {
    kafka: { bootstrapServers: env.podKafka, partitions: 4 },
    cassandra: { contactPoints: env.podCassandra },
    gateway: { replicas: gateways, resources: small, service: { type: "ClusterIP", port: 80 } },
    forwarder: { replicas: forwarders, resources: small },
    matcher: { replicas: matchers, resources: small },
    notifier: { replicas: 1, resources: small },
    deletionPolicy: over.deletionPolicy ?? "Retain",
  });
  const spec = t.object.spec as Record<string, unknown>;
  spec.redis = { url: env.podRedisUrl };
  return t;
}

async function waitGone(namespace: string, name: string): Promise<void> {
  await waitFor(
    `ChatCluster ${namespace}/${name} to be deleted`,
    async () => {
      try {
        await cluster.getChatCluster(namespace, name);
        return undefined;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return true;
        throw err;
      }
    },
    { timeoutMs: 3 * MINUTES, intervalMs: 500 },
  );
}

async function topicExists(topic: string): Promise<boolean> {
  const admin = kafkaAdmin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

const keyspaceExists = (keyspace: string): Promise<boolean> =>
  withCassandra(async (c) => {
    const rs = await c.execute(
      "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
      [keyspace],
      { prepare: true },
    );
    return rs.rowLength === 1;
  });

describe("Switchboard on a real cluster", { timeout: 40 * MINUTES }, () => {
  let namespace = "";
  let t: TestCluster | undefined;
  let rest: Rest;
  let serviceUrl = "";
  const members: Member[] = [];

  const gatewayPods = async (): Promise<V1Pod[]> =>
    t === undefined
      ? []
      : (await cluster.pods(namespace, componentSelector(t, "gateway"))).filter(isReady);

  /** a ready gateway Pod's URL, other than `not` where another is ready: where a client reconnects */
  const anyGateway = async (not?: string): Promise<string> => {
    const pods = await waitFor(
      "a ready gateway pod",
      async () => {
        const ready = await gatewayPods();
        return ready.length > 0 ? ready : undefined;
      },
      { timeoutMs: 2 * MINUTES, intervalMs: 250 },
    );
    const urls = await Promise.all(pods.map((p) => cluster.podUrl(p)));
    return urls.find((u) => u !== not) ?? (urls[0] as string);
  };

  const member = async (name: string, url?: string): Promise<Member> => {
    const session: Session = await rest.register(uniqueName(name).slice(0, 30));
    const m = new Member(name, session, () => anyGateway());
    await m.connect(url);
    members.push(m);
    return m;
  };

  const group = async (owner: Session, name: string, others: Session[]): Promise<string> =>
    (
      await rest.ok(
        "POST",
        "/v1/rooms",
        { kind: "group", name, members: others.map((m) => m.userId) },
        owner.accessToken,
      )
    ).id as string;

  const assertExactlyOnce = (receivers: Member[], roomId: string, last: number) => {
    for (const r of receivers) {
      const problem = exactlyOnceInOrder(r.shown.get(roomId) ?? [], last);
      assert.equal(problem, undefined, `${r.name}: ${problem}`);
    }
  };

  before(async () => {
    await cluster.printPods("before helm install");
  });

  after(async () => {
    await Promise.all(members.map((m) => m.close().catch(() => undefined)));
    cluster.closeForwards();
    await cluster.printPods("at the end");
    if (namespace !== "") await cluster.printWarnings(namespace);
    if (t !== undefined) await teardown(cluster, t, namespace);
    else if (namespace !== "") await cluster.deleteNamespace(namespace);
    await cluster
      .helm(["uninstall", RELEASE, "-n", env.operatorNamespace, "--wait"])
      .catch(() => undefined);
  });

  it("helm install runs the operator from our image, Ready", {
    timeout: 10 * MINUTES,
  }, async () => {
    await cluster.helm(
      [
        "upgrade",
        "--install",
        RELEASE,
        `${repoDir}charts/switchboard-operator`,
        "--namespace",
        env.operatorNamespace,
        "--create-namespace",
        "--wait",
        "--timeout",
        "8m",
      ],
      10 * MINUTES,
    );
    const pods = await waitFor(
      "the operator's pods Running and Ready",
      async () => {
        const all = (await cluster.core.listNamespacedPod({ namespace: env.operatorNamespace }))
          .items;
        return all.length > 0 && all.every(isReady) ? all : undefined;
      },
      { timeoutMs: 5 * MINUTES, intervalMs: 500 },
    );
    for (const p of pods) {
      assert.match(p.spec?.containers[0]?.image ?? "", /switchboard\/operator:/);
    }
    await cluster.printPods("operator installed");
  });

  it("a ChatCluster becomes Ready with every component's Pods Running and Ready", {
    timeout: 10 * MINUTES,
  }, async () => {
    namespace = await cluster.createNamespace("chat-e2e");
    await cluster.createJwtSecret(namespace);
    t = await chatCluster(namespace);
    await cluster.apply(t.object);
    await cluster.waitCondition(namespace, t.name, "Ready", "True", undefined, 8 * MINUTES);
    for (const [component, n] of [
      ["gateway", 2],
      ["forwarder", 2],
      ["matcher", 1],
      ["notifier", 1],
    ] as const) {
      const pods = await cluster.waitReadyPods(namespace, componentSelector(t, component), n);
      for (const p of pods)
        assert.match(p.spec?.containers[0]?.image ?? "", /switchboard\/workloads:/);
    }
    serviceUrl = await cluster.serviceUrl(namespace, `${t.name}-gateway`);
    rest = new Rest(serviceUrl);
    await cluster.printPods("ChatCluster Ready");
  });

  it("the scripted chat of examples/ runs through the gateway Service", {
    timeout: 3 * MINUTES,
  }, async () => {
    const out = await run(process.execPath, [`${repoDir}examples/chat-demo.ts`, serviceUrl], {
      timeoutMs: 2 * MINUTES,
    });
    assert.match(out, /./);
  });

  let sender: Member;
  let receivers: Member[] = [];
  let roomId = "";
  let sent = 0;

  const sendBatch = async (n: number) => {
    for (let i = 0; i < n; i++) sender.send(roomId, `m${++sent}`);
  };

  it("two clients on different gateway Pods chat, each message shown once", {
    timeout: 5 * MINUTES,
  }, async () => {
    const [a, b] = await cluster.waitReadyPods(
      namespace,
      componentSelector(t as TestCluster, "gateway"),
      2,
    );
    const urlA = await cluster.podUrl(a as V1Pod);
    const urlB = await cluster.podUrl(b as V1Pod);
    assert.notEqual(urlA, urlB);
    sender = await member("sender", urlA);
    receivers = [await member("onA", urlA), await member("onB", urlB), await member("onB2", urlB)];
    roomId = await group(
      sender.session,
      "cluster-e2e",
      receivers.map((r) => r.session),
    );
    // each member's socket learns of the new room through the membership event
    await Promise.all(receivers.map((r) => r.connect()));
    await sendBatch(20);
    await sender.waitAllAcked();
    await Promise.all(receivers.map((r) => r.waitShown(roomId, sent)));
    assertExactlyOnce(receivers, roomId, sent);
  });

  it("a gateway Pod deleted while clients are connected: they resume on another with nothing missed", {
    timeout: 8 * MINUTES,
  }, async () => {
    const victimUrl = receivers[0]?.url as string;
    const victim = (await gatewayPods()).find((p) =>
      victimUrl.includes(p.status?.podIP ?? "\u0000"),
    );
    assert.ok(victim, "the pod of the first receiver");
    await cluster.core.deleteNamespacedPod({ namespace, name: victim.metadata?.name as string });
    await sendBatch(30);
    await sender.waitAllAcked(3 * MINUTES);
    await Promise.all(receivers.map((r) => r.waitShown(roomId, sent, 3 * MINUTES)));
    assertExactlyOnce(receivers, roomId, sent);
    assert.ok(
      (receivers[0] as Member).closes.length >= 1,
      "the member on the deleted pod was disconnected",
    );
    await cluster.waitReadyPods(namespace, componentSelector(t as TestCluster, "gateway"), 2);
    await cluster.printPods("after a gateway pod was deleted");
  });

  it("gateway scaled 2 → 3 → 1 with clients connected: nothing lost", {
    timeout: 10 * MINUTES,
  }, async () => {
    const tc = t as TestCluster;
    try {
      await cluster.patchSpec(namespace, tc.name, { gateway: { replicas: 3 } });
      await sendBatch(20);
      await cluster.waitReadyPods(namespace, componentSelector(tc, "gateway"), 3);
      await cluster.waitCondition(namespace, tc.name, "Ready", "True", undefined, 5 * MINUTES);
      await cluster.printPods("gateway scaled to 3");
      await cluster.patchSpec(namespace, tc.name, { gateway: { replicas: 1 } });
      await sendBatch(20);
      await cluster.waitReadyPods(namespace, componentSelector(tc, "gateway"), 1);
      await sendBatch(10);
      await sender.waitAllAcked(3 * MINUTES);
      await Promise.all(receivers.map((r) => r.waitShown(roomId, sent, 3 * MINUTES)));
      assertExactlyOnce(receivers, roomId, sent);
      await cluster.printPods("gateway scaled to 1");
    } finally {
      // the later tests start from two gateways, whatever happened here
      await cluster.patchSpec(namespace, tc.name, { gateway: { replicas: 2 } });
      await cluster.waitReadyPods(namespace, componentSelector(tc, "gateway"), 2);
    }
  });

  it("a spec change (image tag, a setting) rolls the Pods and converges", {
    timeout: 10 * MINUTES,
  }, async () => {
    const tc = t as TestCluster;
    const before = await cluster.getChatCluster(namespace, tc.name);
    await cluster.patchSpec(namespace, tc.name, {
      image: { tag: env.altImageTag },
      observability: { logLevel: "debug" },
    });
    await cluster.waitCondition(namespace, tc.name, "Progressing", "False", undefined, 8 * MINUTES);
    const after: ChatClusterObject = await cluster.waitCondition(
      namespace,
      tc.name,
      "Ready",
      "True",
    );
    assert.ok(after.metadata.generation > before.metadata.generation);
    for (const [component, n] of [
      ["gateway", 2],
      ["forwarder", 2],
      ["matcher", 1],
      ["notifier", 1],
    ] as const) {
      await cluster.waitReadyPods(
        namespace,
        componentSelector(tc, component),
        n,
        5 * MINUTES,
        (p) => (p.spec?.containers[0]?.image ?? "").endsWith(`:${env.altImageTag}`),
      );
    }
    await sendBatch(10);
    await sender.waitAllAcked(3 * MINUTES);
    await Promise.all(receivers.map((r) => r.waitShown(roomId, sent, 3 * MINUTES)));
    assertExactlyOnce(receivers, roomId, sent);
    await cluster.printPods("after the rolling update");
  });

  it("the operator Pod killed mid-reconcile: the ChatCluster still converges", {
    timeout: 10 * MINUTES,
  }, async () => {
    const tc = t as TestCluster;
    await cluster.patchSpec(namespace, tc.name, { matcher: { replicas: 2 } });
    const operators = (await cluster.core.listNamespacedPod({ namespace: env.operatorNamespace }))
      .items;
    await Promise.all(
      operators.map((p) =>
        cluster.core.deleteNamespacedPod({
          namespace: env.operatorNamespace,
          name: p.metadata?.name as string,
          gracePeriodSeconds: 0,
        }),
      ),
    );
    await cluster.waitReadyPods(namespace, componentSelector(tc, "matcher"), 2, 6 * MINUTES);
    const c = await cluster.waitCondition(
      namespace,
      tc.name,
      "Ready",
      "True",
      undefined,
      6 * MINUTES,
    );
    assert.equal(c.status?.matcher?.readyReplicas, 2);
    await cluster.printPods("after the operator pods were killed");
  });

  it("a backend outage shows not-ready and Degraded, and recovers", {
    timeout: 10 * MINUTES,
  }, async () => {
    const tc = t as TestCluster;
    await shell(env.outageStop);
    try {
      // Redis (the default outage) turns the matchers not-ready; the gateways stay ready,
      // degraded, delivering through Kafka (decision 0019). Kafka or Cassandra turn the gateways
      // not-ready too.
      await waitFor(
        "a component's pods to turn not-ready and the ChatCluster to say so",
        async () => {
          const c = await cluster.getChatCluster(namespace, tc.name);
          const ready = c.status?.conditions?.find((x) => x.type === "Ready");
          if (ready?.status !== "False") return undefined;
          for (const component of ["gateway", "matcher"] as const) {
            const pods = await cluster.pods(namespace, componentSelector(tc, component));
            if (pods.length > 0 && pods.every((p) => !isReady(p))) return true;
          }
          return undefined;
        },
        { timeoutMs: 3 * MINUTES, intervalMs: 500 },
      );
      await cluster.printPods("during the backend outage");
    } finally {
      await shell(env.outageStart);
    }
    await cluster.waitReadyPods(namespace, componentSelector(tc, "gateway"), 2, 5 * MINUTES);
    await cluster.waitCondition(namespace, tc.name, "Ready", "True", undefined, 5 * MINUTES);
    await sendBatch(10);
    await sender.waitAllAcked(3 * MINUTES);
    await Promise.all(receivers.map((r) => r.waitShown(roomId, sent, 3 * MINUTES)));
    assertExactlyOnce(receivers, roomId, sent);
  });

  it("deleting with deletionPolicy Retain keeps the topics and keyspace; Delete removes them", {
    timeout: 12 * MINUTES,
  }, async () => {
    const retained = t as TestCluster;
    await Promise.all(members.splice(0).map((m) => m.close()));
    await cluster.deleteChatCluster(namespace, retained.name);
    await waitGone(namespace, retained.name);
    assert.equal(await topicExists(retained.topic), true, "Retain keeps the messages topic");
    assert.equal(await keyspaceExists(retained.keyspace), true, "Retain keeps the keyspace");
    await dropBackends(retained);
    t = undefined;

    const doomed = await chatCluster(namespace, { deletionPolicy: "Delete", replicas: [1, 1, 1] });
    t = doomed;
    await cluster.apply(doomed.object);
    await cluster.waitCondition(namespace, doomed.name, "Ready", "True", undefined, 8 * MINUTES);
    assert.equal(await topicExists(doomed.topic), true);
    await cluster.deleteChatCluster(namespace, doomed.name);
    await waitGone(namespace, doomed.name);
    assert.equal(await topicExists(doomed.topic), false, "Delete removes the messages topic");
    assert.equal(await keyspaceExists(doomed.keyspace), false, "Delete drops the keyspace");
    t = undefined;
    await cluster.printPods("after both deletions");
  });
});
