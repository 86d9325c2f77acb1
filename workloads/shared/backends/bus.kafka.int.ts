// KafkaBus against the Bus contract on the real Kafka (KRaft) that hack/stack starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { kafkaBrokers, uniqueName, waitFor } from "../../../e2e/testkit/index.ts";
import { busContract } from "./bus.contract.ts";
import { createTopicIfMissing, jsonLogCreator, KafkaBus } from "./bus.kafka.ts";

const kafka = new Kafka({
  clientId: "bus-int",
  brokers: kafkaBrokers(),
  logLevel: logLevel.WARN,
  logCreator: jsonLogCreator,
});
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin.disconnect();
});

// quick heartbeats and fetches so that rebalances in the suite take a second, not ten
const consumer = { sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 500 };

busContract("kafka", async () => {
  const topic = uniqueName("bus");
  await createTopicIfMissing(kafka, topic, 4);
  const bus = new KafkaBus(kafka, { consumer });
  return {
    bus,
    topic,
    cleanup: async () => {
      await bus.close();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    },
  };
});

describe("createTopicIfMissing", () => {
  it("creates the topic once with its partitions, and leaves an existing one alone", async () => {
    const topic = uniqueName("bus_topic");
    try {
      assert.equal(await createTopicIfMissing(kafka, topic, 4), true);
      assert.equal(await createTopicIfMissing(kafka, topic, 8), false);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      assert.equal(meta.topics[0]?.partitions.length, 4);
    } finally {
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    }
  });
});

describe("KafkaBus.create", () => {
  it("publishes through a Kafka client of its own and refuses to publish once closed", async () => {
    const topic = uniqueName("bus_own");
    await createTopicIfMissing(kafka, topic, 1);
    const bus = KafkaBus.create({ brokers: kafkaBrokers(), clientId: "bus-int-own" });
    try {
      await bus.publish(topic, [{ key: "k", value: "v", headers: {} }]);
      const offsets = await admin.fetchTopicOffsets(topic);
      assert.equal(offsets[0]?.high, "1");
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    }
    await assert.rejects(bus.publish(topic, [{ key: "k", value: "v", headers: {} }]), {
      code: "BUS_CLOSED",
    });
  });
});

describe("KafkaBus.publish", () => {
  it("refuses records beyond its queue limit at once, with BUS_OVERLOADED", async () => {
    const topic = uniqueName("bus_full");
    await createTopicIfMissing(kafka, topic, 1);
    const bus = new KafkaBus(kafka, { maxPendingRecords: 5 });
    const record = { key: "k", value: "v", headers: {} };
    try {
      const accepted = bus.publish(topic, [record, record, record]);
      await assert.rejects(bus.publish(topic, [record, record, record]), {
        code: "BUS_OVERLOADED",
      });
      await accepted;
      await bus.publish(topic, [record, record, record, record, record]);
      const offsets = await admin.fetchTopicOffsets(topic);
      assert.equal(offsets[0]?.high, "8");
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    }
  });
});

describe("KafkaBus consumer", () => {
  it("restarts after kafkajs gives up on a handler that keeps throwing, even a TypeError, and then delivers the batch", async () => {
    const topic = uniqueName("bus_crash");
    await createTopicIfMissing(kafka, topic, 1);
    // one retry per consumer life: four failures need at least one crash and restart
    const retry = { retries: 1, initialRetryTime: 100, maxRetryTime: 500 };
    const bus = new KafkaBus(kafka, { consumer: { ...consumer, retry } });
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
        "the batch handled after the restart",
        () => (handled.length > 0 ? true : undefined),
        {
          timeoutMs: 60_000,
        },
      );
      assert.equal(failures, 4);
      assert.deepEqual(handled, ["poison-for-a-while"]);
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    }
  });
});
