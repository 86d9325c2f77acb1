// Smoke suite: kafkajs against the real Kafka 4.x (KRaft) that hack/stack starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Admin, type Consumer, Kafka, logLevel, Partitioners } from "kafkajs";
import { kafkaBrokers, uniqueName, waitFor } from "../testkit/index.ts";

describe("kafka (real broker, KRaft)", () => {
  const kafka = new Kafka({
    clientId: "smoke",
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  const topic = uniqueName("smoke");
  const groupId = uniqueName("smoke-group");
  let admin: Admin;
  const consumers: Consumer[] = [];

  before(async () => {
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()));
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it("creates a topic and grows its partitions through the admin API", async () => {
    assert.equal(
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }),
      true,
    );
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(meta.topics[0]?.partitions.length, 2);
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    // the broker answering metadata may learn of the new partitions a moment after the
    // controller made them (CI once read 2 right after)
    await waitFor(
      "the topic's metadata to show 4 partitions",
      async () => {
        const grown = await admin.fetchTopicMetadata({ topics: [topic] });
        return grown.topics[0]?.partitions.length === 4 ? true : undefined;
      },
      { timeoutMs: 15_000 },
    );
  });

  it("delivers every acks=all message once across the members of a consumer group", async () => {
    const received = new Map<string, { member: number; partition: number }>();
    const memberPartitions = [new Set<number>(), new Set<number>()];
    for (const member of [0, 1]) {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const key = message.key?.toString() ?? "";
          assert.ok(!received.has(key), `message ${key} was consumed twice`);
          received.set(key, { member, partition });
          memberPartitions[member]?.add(partition);
        },
      });
    }
    // both members hold partitions before anything is produced
    await waitFor(
      "a stable group of two members",
      async () => {
        const { groups } = await admin.describeGroups([groupId]);
        const g = groups[0];
        return g?.state === "Stable" && g.members.length === 2 ? g : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    const producer = kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const count = 200;
    const sent = Array.from({ length: count }, (_, i) => ({
      key: `k${i}`,
      value: JSON.stringify({ i }),
      partition: i % 4,
    }));
    const acks = await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();
    assert.equal(acks.length > 0, true);

    await waitFor("every message consumed", () => (received.size === count ? true : undefined), {
      timeoutMs: 60_000,
    });
    for (const m of sent) {
      assert.equal(
        received.get(m.key)?.partition,
        m.partition,
        `key ${m.key} came from another partition`,
      );
    }
    assert.ok((memberPartitions[0]?.size ?? 0) > 0, "member 0 consumed nothing");
    assert.ok((memberPartitions[1]?.size ?? 0) > 0, "member 1 consumed nothing");
    for (const p of memberPartitions[0] ?? []) {
      assert.ok(!memberPartitions[1]?.has(p), `partition ${p} was consumed by both members`);
    }

    await waitFor("offsets committed for every partition", async () => {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = offsets[0]?.partitions.reduce((n, p) => n + Number(p.offset), 0);
      return total === count ? total : undefined;
    });
  });
});
