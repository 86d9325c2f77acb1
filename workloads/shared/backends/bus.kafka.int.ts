// KafkaBus against the Bus contract on the real Kafka (KRaft) that hack/stack starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Admin } from "@platformatic/kafka";
import { kafkaBrokers, uniqueName, waitFor } from "../../../e2e/testkit/index.ts";
import { busContract } from "./bus.contract.ts";
import { createTopicIfMissing, KafkaBus, type KafkaBusConfig } from "./bus.kafka.ts";

const config: KafkaBusConfig = { brokers: kafkaBrokers(), clientId: "bus-int" };
let admin: Admin;

before(() => {
  admin = new Admin({
    clientId: "bus-int-admin",
    bootstrapBrokers: config.brokers,
    timeout: 10_000,
  });
});

after(async () => {
  await admin.close();
});

async function highWatermark(topic: string): Promise<bigint | undefined> {
  const [listed] = await admin.listOffsets({
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  return listed?.partitions[0]?.offset;
}

// quick heartbeats and fetches so that rebalances in the suite take a second, not ten
const consumer = { sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTime: 500 };

busContract("kafka", async () => {
  const topic = uniqueName("bus");
  await createTopicIfMissing(config, topic, 4);
  const bus = new KafkaBus(config, { consumer });
  return {
    bus,
    topic,
    cleanup: async () => {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    },
  };
});

describe("createTopicIfMissing", () => {
  it("creates the topic once with its partitions, and leaves an existing one alone", async () => {
    const topic = uniqueName("bus_topic");
    try {
      assert.equal(await createTopicIfMissing(config, topic, 4), true);
      assert.equal(await createTopicIfMissing(config, topic, 8), false);
      const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
      assert.equal(meta.topics.get(topic)?.partitionsCount, 4);
    } finally {
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});

describe("KafkaBus.publish", () => {
  it("refuses records beyond its queue limit at once, with BUS_OVERLOADED, and refuses to publish once closed", async () => {
    const topic = uniqueName("bus_full");
    await createTopicIfMissing(config, topic, 1);
    const bus = new KafkaBus(config, { maxPendingRecords: 5 });
    const record = { key: "k", value: "v", headers: {} };
    try {
      const accepted = bus.publish(topic, [record, record, record]);
      await assert.rejects(bus.publish(topic, [record, record, record]), {
        code: "BUS_OVERLOADED",
      });
      await accepted;
      await bus.publish(topic, [record, record, record, record, record]);
      assert.equal(await highWatermark(topic), 8n);
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
    await assert.rejects(bus.publish(topic, [record]), { code: "BUS_CLOSED" });
  });

  it("puts a key on the partition the Java client (and kafkajs) would choose", async () => {
    const topic = uniqueName("bus_part");
    await createTopicIfMissing(config, topic, 6);
    const bus = new KafkaBus(config);
    // what kafkajs 2.2.4's DefaultPartitioner (the Java client's murmur2) chose for these keys
    const expected: Record<string, number> = {
      "room-1": 3,
      "room-2": 0,
      "a-much-longer-room-key": 3,
    };
    try {
      const seen = new Map<string, number>();
      const member = await bus.consume({
        groupId: uniqueName("g"),
        topic,
        onBatch: async (b) => {
          for (const r of b.records) seen.set(r.key, b.partition);
        },
      });
      await bus.publish(
        topic,
        Object.keys(expected).map((key) => ({ key, value: "v", headers: {} })),
      );
      await waitFor("every key consumed", () => (seen.size === 3 ? true : undefined), {
        timeoutMs: 60_000,
      });
      assert.deepEqual(Object.fromEntries(seen), expected);
      assert.equal(member.membership().joined, true);
      assert.deepEqual(member.membership().partitions, [0, 1, 2, 3, 4, 5]);
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});

describe("KafkaBus consumer", () => {
  it("keeps redelivering a batch whose handler throws, even a TypeError, and then moves on", async () => {
    const topic = uniqueName("bus_crash");
    await createTopicIfMissing(config, topic, 1);
    const bus = new KafkaBus(config, {
      consumer: { ...consumer, retry: { initialMs: 50, maxMs: 500 } },
    });
    try {
      await bus.publish(topic, [{ key: "k", value: "poison-for-a-while", headers: {} }]);
      let failures = 0;
      const handled: string[] = [];
      await bus.consume({
        groupId: uniqueName("g"),
        topic,
        onBatch: async (batch) => {
          if (failures < 4) {
            failures++;
            throw new TypeError("handler bug, on purpose");
          }
          handled.push(...batch.records.map((r) => r.value));
        },
      });
      await waitFor(
        "the batch handled after the failures",
        () => (handled.length > 0 ? true : undefined),
        {
          timeoutMs: 60_000,
        },
      );
      assert.equal(failures, 4);
      assert.deepEqual(handled, ["poison-for-a-while"]);
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});

describe("KafkaBus consumer lag", () => {
  it("reports the records after the committed offset of each partition it holds", async () => {
    const topic = uniqueName("bus_lag");
    await createTopicIfMissing(config, topic, 1);
    const bus = new KafkaBus(config, { consumer: { ...consumer, lagIntervalMs: 200 } });
    try {
      await bus.publish(
        topic,
        [1, 2, 3, 4, 5].map((n) => ({ key: "k", value: `m${n}`, headers: {} })),
      );
      const held = Promise.withResolvers<void>();
      const reports: Map<number, number>[] = [];
      await bus.consume({
        groupId: uniqueName("g"),
        topic,
        onBatch: () => held.promise, // nothing is committed until released
        onLag: (lag) => reports.push(new Map(lag)),
      });
      await waitFor("a lag of 5 on partition 0", () =>
        reports.some((r) => r.get(0) === 5) ? true : undefined,
      );
      held.resolve();
      await waitFor("no lag once the batch is committed", () =>
        reports.at(-1)?.get(0) === 0 ? true : undefined,
      );
      assert.ok(
        reports.every((r) => [...r.keys()].every((p) => p === 0)),
        "only the partition it holds",
      );
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});

describe("KafkaBus pipelined commits (commitEveryMs)", () => {
  const records = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      key: `k${i % 3}`,
      value: `${prefix}${i}`,
      headers: {},
    }));

  it("commits what resolved within the interval, without a batch after it", async () => {
    const topic = uniqueName("bus_commit_every");
    await createTopicIfMissing(config, topic, 1);
    const bus = new KafkaBus(config, { consumer: { ...consumer, lagIntervalMs: 200 } });
    try {
      await bus.publish(topic, records("a", 10));
      const reports: Map<number, number>[] = [];
      let handled = 0;
      await bus.consume({
        groupId: uniqueName("g"),
        topic,
        pipeline: 8,
        commitEveryMs: 300,
        onBatch: async (batch) => {
          handled += batch.records.length;
        },
        onLag: (lag) => reports.push(new Map(lag)),
      });
      await waitFor("every record handled", () => (handled === 10 ? true : undefined));
      await waitFor("no lag: the interval's commit went out", () =>
        reports.at(-1)?.get(0) === 0 ? true : undefined,
      );
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });

  it("stop() commits what resolved: the next member of the group gets none of it again", async () => {
    const topic = uniqueName("bus_commit_stop");
    await createTopicIfMissing(config, topic, 2);
    const groupId = uniqueName("g");
    const bus = new KafkaBus(config, { consumer });
    try {
      await bus.publish(topic, records("before", 12));
      const first: string[] = [];
      const member = await bus.consume({
        groupId,
        topic,
        pipeline: 8,
        commitEveryMs: 600_000, // never by the interval within this test
        onBatch: async (batch) => {
          first.push(...batch.records.map((r) => r.value));
        },
      });
      await waitFor("every record handled", () => (first.length === 12 ? true : undefined));
      await member.stop();

      await bus.publish(topic, records("after", 4));
      const second: string[] = [];
      await bus.consume({
        groupId,
        topic,
        onBatch: async (batch) => {
          second.push(...batch.records.map((r) => r.value));
        },
      });
      await waitFor("the records published after", () =>
        second.filter((v) => v.startsWith("after")).length === 4 ? true : undefined,
      );
      assert.deepEqual(
        second.filter((v) => v.startsWith("before")),
        [],
        "nothing the stopped member handled came again",
      );
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});
