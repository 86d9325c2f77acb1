// The candidates the Kafka fail-over benchmark compares: a consumer-group member and a producer
// per client and configuration, each behind the same two small functions so that the child
// processes (member.ts, producer.ts) do not care which client they run.
import {
  Consumer,
  compatibilityPartitioner,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { KafkaBus as NewBus } from "../../workloads/shared/backends/bus.kafka.ts";
import { KafkaBus } from "./kafkajs-bus.ts";

export interface Batch {
  readonly partition: number;
  readonly values: readonly string[];
}

export interface MemberHooks {
  readonly onBatch: (batch: Batch) => void;
  readonly onAssignment: (partitions: number[]) => void;
}

export interface Candidate {
  readonly name: string;
  readonly describe: string;
  /** joins the group and consumes until the process dies */
  member(
    brokers: string[],
    groupId: string,
    topic: string,
    instance: string,
    hooks: MemberHooks,
  ): Promise<void>;
  /** resolves a send function that resolves once the record is acknowledged (acks = all) */
  producer(
    brokers: string[],
    topic: string,
  ): Promise<(key: string, value: string) => Promise<void>>;
}

function kafkajs(
  name: string,
  describe: string,
  consumer: {
    sessionTimeout: number;
    heartbeatInterval: number;
    maxWaitTimeInMs?: number;
    retry?: object;
  },
): Candidate {
  return {
    name,
    describe,
    async member(brokers, groupId, topic, instance, hooks) {
      const bus = KafkaBus.create({ brokers, clientId: instance }, { consumer });
      await bus.consume({
        groupId,
        topic,
        onAssignment: hooks.onAssignment,
        onBatch: async (b) =>
          hooks.onBatch({ partition: b.partition, values: b.records.map((r) => r.value) }),
      });
    },
    async producer(brokers, topic) {
      const bus = KafkaBus.create({ brokers, clientId: "bench-producer" });
      return (key, value) => bus.publish(topic, [{ key, value, headers: {} }]);
    },
  };
}

function platformatic(
  name: string,
  describe: string,
  group: {
    protocol: "classic" | "consumer";
    static: boolean;
    sessionTimeout?: number;
    heartbeatInterval?: number;
  },
): Candidate {
  return {
    name,
    describe,
    async member(brokers, groupId, topic, instance, hooks) {
      const common = {
        clientId: instance,
        bootstrapBrokers: brokers,
        groupId,
        deserializers: stringDeserializers,
        maxWaitTime: 500,
        timeout: 5_000,
        retries: 10,
        retryDelay: 250,
        ...(group.static && { groupInstanceId: instance }),
      };
      const note = (what: string) => (x: unknown) =>
        process.stderr.write(
          `${new Date().toISOString()} ${what} ${x instanceof Error ? x.message : JSON.stringify(x, (_k, v) => (v instanceof Error ? v.message : v))}\n`,
        );
      // The client destroys the stream on a failed fetch or metadata request (Kafka down) and
      // does not retry: an adapter has to start a new consumer, as this one does.
      const life = async (): Promise<void> => {
        const consumer =
          group.protocol === "consumer"
            ? new Consumer({ ...common, groupProtocol: "consumer" as const })
            : new Consumer({
                ...common,
                sessionTimeout: group.sessionTimeout ?? 10_000,
                heartbeatInterval: group.heartbeatInterval ?? 1_000,
              });
        consumer.on("consumer:heartbeat:error", note("heartbeat error"));
        consumer.on("consumer:group:join", note("join"));
        consumer.on("consumer:group:rebalance", note("rebalance"));
        consumer.on("error", note("error"));
        // the consumer protocol changes assignments in heartbeats, without an event: poll it
        let last = "";
        const poll = setInterval(() => {
          const mine = (consumer.assignments ?? []).flatMap((x) =>
            x.topic === topic ? x.partitions : [],
          );
          const key = [...mine].sort((x, y) => x - y).join();
          if (key !== last) {
            last = key;
            hooks.onAssignment(mine);
          }
        }, 100);
        let restarting = false;
        const restart = (why: unknown) => {
          if (restarting) return;
          restarting = true;
          note("restart after")(why);
          clearInterval(poll);
          consumer
            .close(true)
            .catch(() => undefined)
            .finally(() => setTimeout(() => void life(), 500));
        };
        try {
          const stream = await consumer.consume({
            topics: [topic],
            mode: "committed",
            fallbackMode: "earliest",
            autocommit: 200,
          });
          // one "batch" per message: the stream hands them one by one
          stream.on("data", (m) => hooks.onBatch({ partition: m.partition, values: [m.value] }));
          stream.on("error", restart);
          stream.on("close", () => restart("stream closed"));
        } catch (err) {
          restart(err);
        }
      };
      await life();
    },
    async producer(brokers, topic) {
      const producer = new Producer({
        clientId: "bench-producer",
        bootstrapBrokers: brokers,
        serializers: stringSerializers,
        idempotent: true,
        partitioner: compatibilityPartitioner,
        timeout: 5_000,
        retries: 10,
        retryDelay: 250,
      });
      return async (key, value) => {
        await producer.send({ messages: [{ topic, key, value }] });
      };
    },
  };
}

/** the adapter the workloads run (workloads/shared/backends/bus.kafka.ts), as connect.ts makes it */
const adapter: Candidate = {
  name: "bus-platformatic",
  describe:
    "KafkaBus on @platformatic/kafka: classic protocol, cooperative-sticky, static membership (instance id), session 6 s, heartbeat 600 ms, retry 100 ms-1 s",
  async member(brokers, groupId, topic, instance, hooks) {
    const bus = new NewBus({ brokers, clientId: instance });
    await bus.consume({
      groupId,
      topic,
      instanceId: instance,
      onAssignment: hooks.onAssignment,
      onBatch: async (b) =>
        hooks.onBatch({ partition: b.partition, values: b.records.map((r) => r.value) }),
    });
  },
  async producer(brokers, topic) {
    const bus = new NewBus({ brokers, clientId: "bench-producer" });
    return (key, value) => bus.publish(topic, [{ key, value, headers: {} }]);
  },
};

export const candidates: readonly Candidate[] = [
  kafkajs(
    "kafkajs-today",
    "kafkajs 2.2.4 via KafkaBus, session 30 s, heartbeat 3 s (connect.ts defaults)",
    {
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    },
  ),
  kafkajs(
    "kafkajs-tuned",
    "kafkajs 2.2.4 via KafkaBus, session 6 s (broker minimum), heartbeat 500 ms, fetch wait 500 ms, retry 100-1000 ms",
    {
      sessionTimeout: 6_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 500,
      retry: { initialRetryTime: 100, maxRetryTime: 1_000 },
    },
  ),
  platformatic(
    "platformatic-classic-static",
    "@platformatic/kafka, classic protocol, static membership (groupInstanceId), session 6 s, heartbeat 600 ms, retry 100 ms-1 s",
    {
      protocol: "classic",
      static: true,
    },
  ),
  platformatic(
    "platformatic-consumer",
    "@platformatic/kafka, KIP-848 consumer protocol, dynamic members",
    {
      protocol: "consumer",
      static: false,
    },
  ),
  platformatic(
    "platformatic-consumer-static",
    "@platformatic/kafka, KIP-848 consumer protocol, static membership (groupInstanceId)",
    {
      protocol: "consumer",
      static: true,
    },
  ),
  adapter,
];

export function candidate(name: string): Candidate {
  const c = candidates.find((x) => x.name === name);
  if (c === undefined)
    throw new Error(
      `unknown candidate ${name}: one of ${candidates.map((x) => x.name).join(", ")}`,
    );
  return c;
}
