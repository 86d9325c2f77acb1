import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exampleCluster } from "./fixture.ts";
import { describeProblem, desiredTopics, type ObservedTopic, planTopics } from "./topics.ts";

const deliveries: ObservedTopic = {
  name: "demo.deliveries",
  partitions: 1,
  replicationFactor: 1,
  configs: { "retention.ms": "3600000", "cleanup.policy": "delete" },
};

/** Both topics as the spec wants them, the messages topic changed by `t`. */
const observed = (t: Partial<ObservedTopic> = {}): Map<string, ObservedTopic> =>
  new Map([
    [
      "demo.messages",
      {
        name: "demo.messages",
        partitions: 6,
        replicationFactor: 1,
        configs: { "retention.ms": "604800000", "cleanup.policy": "delete" },
        ...t,
      },
    ],
    ["demo.deliveries", deliveries],
  ]);

describe("planTopics", () => {
  const desired = desiredTopics(exampleCluster());

  it("wants the messages topic with the spec's partitions, replication factor and retention, and the deliveries topic with one partition and an hour", () => {
    assert.deepEqual(desired, [
      {
        name: "demo.messages",
        partitions: 6,
        replicationFactor: 1,
        configs: { "retention.ms": "604800000", "cleanup.policy": "delete" },
      },
      {
        name: "demo.deliveries",
        partitions: 1,
        replicationFactor: 1,
        configs: { "retention.ms": "3600000", "cleanup.policy": "delete" },
      },
    ]);
  });

  it("creates missing topics and does nothing to those that match", () => {
    assert.deepEqual(planTopics(desired, new Map()).actions, [
      { kind: "create", topic: desired[0] },
      { kind: "create", topic: desired[1] },
    ]);
    const noDeliveries = observed();
    noDeliveries.delete("demo.deliveries");
    assert.deepEqual(planTopics(desired, noDeliveries).actions, [
      { kind: "create", topic: desired[1] },
    ]);
    assert.deepEqual(planTopics(desired, observed()), { actions: [], problems: [] });
  });

  it("grows partitions and corrects drifted config", () => {
    const plan = planTopics(
      desired,
      observed({ partitions: 3, configs: { "retention.ms": "1000", "cleanup.policy": "delete" } }),
    );
    assert.deepEqual(plan.actions, [
      { kind: "grow", topic: "demo.messages", from: 3, to: 6 },
      {
        kind: "configure",
        topic: "demo.messages",
        configs: { "retention.ms": "604800000" },
        was: { "retention.ms": "1000" },
      },
    ]);
  });

  it("refuses a shrink and a replication factor change, with a reason a person can act on", () => {
    const plan = planTopics(desired, observed({ partitions: 9, replicationFactor: 3 }));
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(
      plan.problems.map((p) => p.kind),
      ["shrink", "replicationFactor"],
    );
    assert.match(
      describeProblem(plan.problems[0] as never),
      /has 9 partitions .* asks for 6.*set kafka.partitions to 9 or more/,
    );
  });
});
