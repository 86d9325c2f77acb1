import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reason } from "../api/conditions.ts";
import { exampleCluster } from "./fixture.ts";
import { computeStatus, type DeploymentObservation, type Observations } from "./status.ts";

const now = new Date("2026-01-01T00:00:00Z");
const dep = (desired: number, ready: number): DeploymentObservation => ({
  desired,
  ready,
  updated: desired,
  observed: true,
});
const ok = (): Observations => ({
  kafka: {
    ok: true,
    reason: Reason.TopicsReady,
    message: "topics ready",
    topics: ["demo.messages"],
  },
  cassandra: {
    ok: true,
    reason: Reason.SchemaReady,
    message: "v1",
    schemaVersion: 1,
    keyspace: "demo",
  },
});
const cond = (s: ReturnType<typeof computeStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("computeStatus", () => {
  it("says PodsNotReady with the counts while pods are not ready (no kubelet: always, here)", () => {
    const s = computeStatus(
      exampleCluster(),
      {
        ...ok(),
        deployments: {
          gateway: dep(2, 0),
          forwarder: dep(2, 1),
          matcher: dep(1, 0),
          notifier: dep(1, 0),
        },
      },
      now,
    );
    assert.equal(s.observedGeneration, 4);
    assert.equal(cond(s, "Ready")?.status, "False");
    assert.equal(cond(s, "Ready")?.reason, "PodsNotReady");
    assert.match(
      cond(s, "Ready")?.message ?? "",
      /gateway 0\/2, forwarder 1\/2, matcher 0\/1, notifier 0\/1/,
    );
    assert.equal(cond(s, "Progressing")?.status, "True");
    assert.equal(cond(s, "Degraded")?.status, "False");
    assert.equal(cond(s, "KafkaTopicsReady")?.status, "True");
    assert.equal(cond(s, "CassandraSchemaReady")?.status, "True");
    assert.deepEqual(s.gateway, { desiredReplicas: 2, readyReplicas: 0 });
    assert.equal(s.endpoints?.gateway, "http://demo-gateway.team-a.svc:80");
    assert.equal(s.schemaVersion, 1);
    assert.deepEqual(s.topics, ["demo.messages"]);
  });

  it("reports a missing bucket as ObjectStoreReady False without blocking Ready, and drops the condition with objectStore", () => {
    const store = {
      endpoint: "http://s3.example",
      bucket: "uploads",
      credentialsSecretRef: { name: "s3" },
    };
    const withStore = exampleCluster({ objectStore: store });
    const all = {
      gateway: dep(2, 2),
      forwarder: dep(2, 2),
      matcher: dep(1, 1),
      notifier: dep(1, 1),
    };
    const missing = computeStatus(
      withStore,
      {
        ...ok(),
        deployments: all,
        objectStore: {
          ok: false,
          reason: Reason.BucketMissing,
          message: "bucket uploads is missing",
        },
      },
      now,
    );
    assert.equal(cond(missing, "ObjectStoreReady")?.status, "False");
    assert.equal(cond(missing, "ObjectStoreReady")?.reason, "BucketMissing");
    assert.equal(cond(missing, "Ready")?.status, "True", "chat works without uploads");
    const fixed = computeStatus(
      exampleCluster({ objectStore: store }, missing as Record<string, unknown>),
      {
        ...ok(),
        deployments: all,
        objectStore: { ok: true, reason: Reason.BucketReady, message: "answers" },
      },
      now,
    );
    assert.equal(cond(fixed, "ObjectStoreReady")?.status, "True");
    const removed = computeStatus(
      exampleCluster({}, fixed as Record<string, unknown>),
      { ...ok(), deployments: all },
      now,
    );
    assert.equal(cond(removed, "ObjectStoreReady"), undefined);
  });

  it("is Ready when every pod is ready", () => {
    const s = computeStatus(
      exampleCluster(),
      {
        ...ok(),
        deployments: {
          gateway: dep(2, 2),
          forwarder: dep(2, 2),
          matcher: dep(1, 1),
          notifier: dep(1, 1),
        },
      },
      now,
    );
    assert.equal(cond(s, "Ready")?.status, "True");
    assert.equal(cond(s, "Progressing")?.status, "False");
  });

  it("is Degraded with the failing step's reason and not Ready when a backend is unreachable", () => {
    const s = computeStatus(
      exampleCluster(),
      {
        kafka: {
          ok: false,
          reason: Reason.KafkaUnreachable,
          message: "cannot reach Kafka at k:9092",
        },
      },
      now,
    );
    assert.equal(cond(s, "Degraded")?.status, "True");
    assert.equal(cond(s, "Degraded")?.reason, "KafkaUnreachable");
    assert.equal(cond(s, "Ready")?.reason, "KafkaUnreachable");
    assert.equal(cond(s, "KafkaTopicsReady")?.status, "False");
    assert.equal(cond(s, "CassandraSchemaReady"), undefined, "a step not reached reports nothing");
  });

  it("keeps lastTransitionTime of conditions that did not flip", () => {
    const first = computeStatus(
      exampleCluster(),
      {
        ...ok(),
        deployments: {
          gateway: dep(2, 0),
          forwarder: dep(2, 0),
          matcher: dep(1, 0),
          notifier: dep(1, 0),
        },
      },
      now,
    );
    const later = new Date("2026-01-01T01:00:00Z");
    const second = computeStatus(
      exampleCluster({}, first),
      {
        ...ok(),
        deployments: {
          gateway: dep(2, 2),
          forwarder: dep(2, 2),
          matcher: dep(1, 1),
          notifier: dep(1, 1),
        },
      },
      later,
    );
    assert.equal(cond(second, "Degraded")?.lastTransitionTime, "2026-01-01T00:00:00Z");
    assert.equal(cond(second, "Ready")?.lastTransitionTime, "2026-01-01T01:00:00Z");
  });
});
