// The Kafka edge of the reconcile: reads the topics through the admin API, applies the plan of
// topics.ts, deletes them on a Delete policy. Bounded: short connection and request timeouts
// and few retries, so an unreachable broker gives an error value quickly (the work queue then
// backs off) instead of a long hang.
import type { ConnectionOptions } from "node:tls";
import kafkajs, { type Admin, Kafka, logLevel, type SASLOptions } from "kafkajs";
import type { Logger } from "pino";
import type { ObservedTopic, TopicAction, TopicSpec } from "./topics.ts";

export interface KafkaAccess {
  readonly brokers: readonly string[];
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
}

export interface KafkaTimeouts {
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

// kafkajs is CommonJS and Node's loader does not see this enum as a named export
const { ConfigResourceTypes } = kafkajs;
const CONFIG_SOURCE_TOPIC = 1; // DescribeConfigs: a dynamic topic config

const UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSLockTimeout",
]);

/** True when the error says the brokers could not be reached (rather than refused a request). */
export function isUnreachable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    if (
      UNREACHABLE.has(e.name) ||
      /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH/.test(e.message)
    ) {
      return true;
    }
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? e.cause;
  }
  return false;
}

export class TopicAdmin {
  readonly #admin: Admin;

  private constructor(admin: Admin) {
    this.#admin = admin;
  }

  /** Connects an admin client; call close() when done. */
  static async connect(access: KafkaAccess, t: KafkaTimeouts, log: Logger): Promise<TopicAdmin> {
    const kafka = new Kafka({
      clientId: "switchboard-operator",
      brokers: [...access.brokers],
      ...(access.ssl !== undefined && { ssl: access.ssl }),
      ...(access.sasl !== undefined && { sasl: access.sasl }),
      connectionTimeout: t.connectionTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, log: entry }) =>
          log.debug({ kafkajs: namespace, detail: entry.message }, "kafkajs"),
    });
    const admin = kafka.admin({
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    await admin.connect();
    return new TopicAdmin(admin);
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => undefined);
  }

  /** The topics of `names` that exist, with partitions, replication factor and configs. */
  async observe(names: readonly string[]): Promise<Map<string, ObservedTopic>> {
    const existing = new Set(await this.#admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    const out = new Map<string, ObservedTopic>();
    if (present.length === 0) return out;
    const meta = await this.#admin.fetchTopicMetadata({ topics: present });
    const configs = await this.#admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    for (const t of meta.topics) {
      const described = configs.resources.find((r) => r.resourceName === t.name);
      const entries: Record<string, string> = {};
      for (const e of described?.configEntries ?? []) entries[e.configName] = e.configValue;
      out.set(t.name, {
        name: t.name,
        partitions: t.partitions.length,
        replicationFactor: t.partitions[0]?.replicas.length ?? 0,
        configs: entries,
      });
    }
    return out;
  }

  async perform(action: TopicAction): Promise<void> {
    switch (action.kind) {
      case "create":
        await this.#create(action.topic);
        return;
      case "grow":
        await this.#admin.createPartitions({
          topicPartitions: [{ topic: action.topic, count: action.to }],
        });
        return;
      case "configure":
        await this.#configure(action.topic, action.configs);
        return;
    }
  }

  /**
   * Creates the topic. A create the broker carried out can still fail at the client (the
   * request or the wait for its leaders timed out on a busy broker, or the broker asked for the
   * leaders did not know the topic yet: "This server does not host this topic-partition"):
   * then the topic exists, and the next reconcile would find it and never say it was created.
   * So after a failure the controller is asked again, without the wait: it answers a topic it
   * made with TOPIC_ALREADY_EXISTS (kafkajs resolves false), which counts as done, as does a
   * create that succeeds now. Only if that fails too, a topic the listing shows counts as done.
   */
  async #create(t: TopicSpec): Promise<void> {
    try {
      await this.#createTopic(t, true);
    } catch (err) {
      const createdOrFound = await this.#createTopic(t, false).then(
        () => true,
        () => false,
      );
      if (createdOrFound) return;
      const exists = await this.#admin
        .listTopics()
        .then((names) => names.includes(t.name))
        .catch(() => false);
      if (!exists) throw err;
    }
  }

  /** Resolves once the topic is made, now or before (kafkajs: TOPIC_ALREADY_EXISTS is no error). */
  async #createTopic(t: TopicSpec, waitForLeaders: boolean): Promise<void> {
    await this.#admin.createTopics({
      waitForLeaders,
      topics: [
        {
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  }

  /**
   * AlterConfigs replaces a topic's whole dynamic config: keep the ones someone else set,
   * change only ours.
   */
  async #configure(topic: string, configs: Readonly<Record<string, string>>): Promise<void> {
    const described = await this.#admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    const keep: Record<string, string> = {};
    for (const e of described.resources[0]?.configEntries ?? []) {
      const source = (e as { configSource?: number }).configSource;
      if (source === CONFIG_SOURCE_TOPIC && !e.readOnly) keep[e.configName] = e.configValue;
    }
    const merged = { ...keep, ...configs };
    await this.#admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  }

  /** Deletes the topics that exist; resolves the names deleted. */
  async delete(names: readonly string[]): Promise<string[]> {
    const existing = new Set(await this.#admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length > 0) await this.#admin.deleteTopics({ topics: present });
    return present;
  }
}
