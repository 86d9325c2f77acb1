import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Reason } from "../api/conditions.ts";
import { type DurabilityFacts, judgeDurability, replicationFactorIn } from "./durability.ts";
import { exampleCluster } from "./fixture.ts";
import { computeStatus } from "./status.ts";

const facts = (over: Partial<DurabilityFacts> = {}): DurabilityFacts => ({
  nodes: [
    { host: "10.0.0.1:9042", commitlogSync: "group" },
    { host: "10.0.0.2:9042", commitlogSync: "batch" },
    { host: "10.0.0.3:9042", commitlogSync: "group" },
  ],
  replicationFactor: 3,
  localDatacenter: "dc1",
  keyspace: "demo",
  ...over,
});

describe("judgeDurability", () => {
  it("is durable with synced commit logs on every node and 3 replicas", () => {
    const j = judgeDurability(facts());
    assert.equal(j.ok, true);
    assert.equal(j.reason, Reason.Durable);
    assert.match(j.message, /\(group, batch\) on 3 node\(s\).*3 replicas in dc1/);
  });

  it("names every node whose commit log acknowledges before syncing", () => {
    const j = judgeDurability(
      facts({
        nodes: [
          { host: "10.0.0.1:9042", commitlogSync: "periodic" },
          { host: "10.0.0.2:9042", commitlogSync: "group" },
        ],
      }),
    );
    assert.equal(j.ok, false);
    assert.equal(j.known, true);
    assert.equal(j.reason, Reason.CommitLogNotDurable);
    assert.match(j.message, /10\.0\.0\.1:9042 \(commitlog_sync: periodic\)/);
    assert.doesNotMatch(j.message, /10\.0\.0\.2/);
    assert.match(j.message, /commitlog_sync: group/);
  });

  it("a periodic commit log outweighs a low replication factor", () => {
    const j = judgeDurability(
      facts({ nodes: [{ host: "a", commitlogSync: "periodic" }], replicationFactor: 1 }),
    );
    assert.equal(j.reason, Reason.CommitLogNotDurable);
  });

  it("says a replication factor under 3 loses messages with a node's disk", () => {
    const j = judgeDurability(facts({ replicationFactor: 1 }));
    assert.equal(j.ok, false);
    assert.equal(j.reason, Reason.ReplicationTooLow);
    assert.match(j.message, /1 replica\(s\) in dc1.*production needs 3/);
  });

  it("is unknown, not durable, when a node does not say or the keyspace has no factor here", () => {
    const silent = judgeDurability(facts({ nodes: [{ host: "10.0.0.9:9042" }] }));
    assert.equal(silent.known, false);
    assert.equal(silent.reason, Reason.DurabilityUnknown);
    assert.match(silent.message, /no commitlog_sync from 10\.0\.0\.9:9042/);
    const { replicationFactor: _, ...withoutFactor } = facts();
    const noFactor = judgeDurability(withoutFactor);
    assert.equal(noFactor.reason, Reason.DurabilityUnknown);
    assert.match(noFactor.message, /no replication factor for dc1 in keyspace demo/);
    assert.equal(judgeDurability(facts({ nodes: [] })).reason, Reason.DurabilityUnknown);
  });
});

describe("replicationFactorIn", () => {
  it("reads SimpleStrategy's factor, NetworkTopologyStrategy's per data centre, transient too", () => {
    const simple = {
      class: "org.apache.cassandra.locator.SimpleStrategy",
      replication_factor: "1",
    };
    assert.equal(replicationFactorIn(simple, "dc1"), 1);
    const nts = { class: "org.apache.cassandra.locator.NetworkTopologyStrategy", dc1: "3/1" };
    assert.equal(replicationFactorIn(nts, "dc1"), 3);
    assert.equal(replicationFactorIn(nts, "dc2"), undefined);
  });
});

describe("the AcknowledgedWritesDurable condition", () => {
  const now = new Date("2026-01-01T00:00:00Z");

  it("is False with the reason when the settings cannot honour the guarantee, Unknown when unread", () => {
    const bad = computeStatus(
      exampleCluster(),
      { durability: judgeDurability(facts({ nodes: [{ host: "a", commitlogSync: "periodic" }] })) },
      now,
    );
    const cond = bad.conditions?.find((c) => c.type === "AcknowledgedWritesDurable");
    assert.equal(cond?.status, "False");
    assert.equal(cond?.reason, "CommitLogNotDurable");
    const unread = computeStatus(
      exampleCluster(),
      { durability: judgeDurability(facts({ nodes: [] })) },
      now,
    );
    assert.equal(
      unread.conditions?.find((c) => c.type === "AcknowledgedWritesDurable")?.status,
      "Unknown",
    );
  });

  it("reports without blocking: a non-durable Cassandra leaves Degraded False", () => {
    const s = computeStatus(
      exampleCluster(),
      { durability: judgeDurability(facts({ replicationFactor: 1 })) },
      now,
    );
    assert.equal(s.conditions?.find((c) => c.type === "Degraded")?.status, "False");
  });
});
