// Switchboard on the real stack, for integration tests and benchmarks: a fresh ChatCluster
// namespace (keyspace, topic, Redis prefix), its schema migrated, and gateway, forwarder and
// (when asked) matcher and notifier processes started against it. Everything is removed again by stop().
import { randomBytes } from "node:crypto";
import { Client } from "cassandra-driver";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { migrate } from "#contract/schema/migrate";
import { DELIVERIES_TOPIC, deliveriesTopicOf } from "#contract/settings";
import { createTopicIfMissing } from "../../workloads/shared/backends/bus.kafka.ts";
import { Workload } from "./processes.ts";
import { cassandraContactPoints, cassandraLocalDc, kafkaBrokers, redisUrl } from "./stack.ts";

export interface ChatStackOptions {
  readonly gateways?: number;
  readonly forwarders?: number;
  /** matcher processes (default none) */
  readonly matchers?: number;
  /** notifier processes (default none) */
  readonly notifiers?: number;
  readonly partitions?: number;
  /** extra environment for every workload */
  readonly env?: Record<string, string>;
  /** backends of its own (e.g. OwnPart instances) instead of the shared stack's */
  readonly backends?: Backends;
}

export interface Backends {
  readonly redisUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly cassandraContactPoints: readonly string[];
  readonly cassandraLocalDc: string;
}

const sharedBackends = (): Backends => ({
  redisUrl: redisUrl(),
  kafkaBrokers: kafkaBrokers(),
  cassandraContactPoints: cassandraContactPoints(),
  cassandraLocalDc: cassandraLocalDc(),
});

export class ChatStack {
  readonly cluster: string;
  readonly env: Record<string, string>;
  readonly backends: Backends;
  readonly gateways: Workload[] = [];
  readonly forwarders: Workload[] = [];
  readonly matchers: Workload[] = [];
  readonly notifiers: Workload[] = [];
  #seq = 0;

  private constructor(cluster: string, env: Record<string, string>, backends: Backends) {
    this.cluster = cluster;
    this.env = env;
    this.backends = backends;
  }

  get keyspace(): string {
    return this.cluster.replaceAll("-", "_");
  }

  get topic(): string {
    return `${this.cluster}.messages`;
  }

  /** the fallback delivery topic (docs/decisions/0019), created beside the messages topic */
  get deliveriesTopic(): string {
    return deliveriesTopicOf(this.cluster);
  }

  static async start(o: ChatStackOptions = {}): Promise<ChatStack> {
    const cluster = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
    const b = o.backends ?? sharedBackends();
    const env: Record<string, string> = {
      SWITCHBOARD_CLUSTER: cluster,
      SWITCHBOARD_BACKENDS: "real",
      KAFKA_BROKERS: b.kafkaBrokers.join(","),
      CASSANDRA_CONTACT_POINTS: b.cassandraContactPoints.join(","),
      CASSANDRA_LOCAL_DC: b.cassandraLocalDc,
      CASSANDRA_KEYSPACE: cluster,
      REDIS_URL: b.redisUrl,
      JWT_SECRET: randomBytes(32).toString("base64url"),
      PASSWORD_KDF_MEMORY_KIB: "1024",
      PASSWORD_KDF_PASSES: "1",
      RATE_LIMIT_BURST: "1000",
      RATE_LIMIT_PER_SECOND: "1000",
      ANON_RATE_LIMIT_BURST: "10000",
      ANON_RATE_LIMIT_PER_SECOND: "10000",
      // SB_WORKLOAD_LOG_LEVEL=debug (with SB_WORKLOAD_LOG_DIR) to look into a run
      LOG_LEVEL: process.env.SB_WORKLOAD_LOG_LEVEL ?? "warn",
      ...o.env,
    };
    const stack = new ChatStack(cluster, env, b);
    const cassandra = new Client({
      contactPoints: [...b.cassandraContactPoints],
      localDataCenter: b.cassandraLocalDc,
    });
    try {
      const migrated = await migrate(cassandra, {
        keyspace: stack.keyspace,
        replication: { class: "SimpleStrategy", replicationFactor: 1 },
      });
      if (!migrated.ok) throw migrated.error;
    } finally {
      await cassandra.shutdown();
    }
    const kafka = { brokers: [...b.kafkaBrokers], clientId: "chat-stack" };
    await createTopicIfMissing(kafka, stack.topic, o.partitions ?? 4);
    await createTopicIfMissing(kafka, stack.deliveriesTopic, DELIVERIES_TOPIC.partitions);
    const started = await Promise.allSettled([
      ...Array.from({ length: o.forwarders ?? 2 }, () => stack.startForwarder()),
      ...Array.from({ length: o.gateways ?? 2 }, () => stack.startGateway()),
      ...Array.from({ length: o.matchers ?? 0 }, () => stack.startMatcher()),
      ...Array.from({ length: o.notifiers ?? 0 }, () => stack.startNotifier()),
    ]);
    const failed = started.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      // the caller gets no stack to stop: stop what did start, or its processes outlive the
      // test and the test file never exits (a gateway not ready in time under load did that)
      await stack.stop();
      throw failed.reason;
    }
    return stack;
  }

  async startGateway(env: Record<string, string> = {}): Promise<Workload> {
    const n = this.#seq++;
    const w = await Workload.start(`gateway-${n}`, "workloads/gateway/main.ts", {
      ...this.env,
      GATEWAY_ID: `${this.cluster}-gw-${n}`,
      ...env,
    });
    this.gateways.push(w);
    return w;
  }

  async startForwarder(env: Record<string, string> = {}): Promise<Workload> {
    const n = this.#seq++;
    const w = await Workload.start(`forwarder-${n}`, "workloads/forwarder/main.ts", {
      ...this.env,
      ...env,
    });
    this.forwarders.push(w);
    return w;
  }

  async startMatcher(env: Record<string, string> = {}): Promise<Workload> {
    const n = this.#seq++;
    const w = await Workload.start(`matcher-${n}`, "workloads/matcher/main.ts", {
      ...this.env,
      MATCHER_ID: `${this.cluster}-matcher-${n}`,
      ...env,
    });
    this.matchers.push(w);
    return w;
  }

  async startNotifier(env: Record<string, string> = {}): Promise<Workload> {
    const n = this.#seq++;
    const w = await Workload.start(`notifier-${n}`, "workloads/notifier/main.ts", {
      ...this.env,
      ...env,
    });
    this.notifiers.push(w);
    return w;
  }

  /** Stops every process and removes the keyspace, topics and Redis keys of this cluster. */
  async stop(): Promise<void> {
    await Promise.allSettled(
      [...this.gateways, ...this.forwarders, ...this.matchers, ...this.notifiers].map((w) =>
        w.stop(),
      ),
    );
    const b = this.backends;
    const cassandra = new Client({
      contactPoints: [...b.cassandraContactPoints],
      localDataCenter: b.cassandraLocalDc,
    });
    const kafka = new Kafka({
      clientId: "chat-stack",
      brokers: [...b.kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const redis = new Redis(b.redisUrl, { lazyConnect: true });
    await Promise.allSettled([
      cassandra
        .execute(`DROP KEYSPACE IF EXISTS ${this.keyspace}`)
        .finally(() => cassandra.shutdown()),
      admin
        .connect()
        .then(() => admin.deleteTopics({ topics: [this.topic, this.deliveriesTopic] }))
        .finally(() => admin.disconnect()),
      (async () => {
        await redis.connect();
        const stream = redis.scanStream({ match: `sb:${this.cluster}:*`, count: 500 });
        for await (const keys of stream)
          if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
        await redis.quit();
      })(),
    ]);
  }
}
