// The retired kafkajs 2.2.4 Bus adapter, kept as the fail-over benchmark's baseline (it was
// workloads/shared/backends/bus.kafka.ts until docs/decisions/0016): the figures for "kafkajs
// as configured before" come from this code, unchanged but for this comment and the import.
// KafkaBus: the Bus on Apache Kafka through kafkajs 2.2.4 (see docs/decisions/0003).
// Publish: one idempotent producer, acks = all, records with the same key on one partition
// (murmur2, Java-compatible). Consume: one kafkajs consumer per call, offsets committed by us
// after the handler resolved, never by kafkajs's auto-commit.
import type { ConnectionOptions } from "node:tls";
import {
  type Admin,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type logCreator,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type SASLOptions,
} from "kafkajs";
import type {
  Bus,
  BusRecord,
  ConsumedBatch,
  ConsumerOptions,
  BusConsumer as PortConsumer,
} from "../../workloads/shared/backends/bus.ts";

type BusConsumer = Pick<PortConsumer, "stop">;

export interface KafkaBusConfig {
  readonly brokers: string[];
  readonly clientId: string;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
}

export interface KafkaBusOptions {
  /** kafkajs consumer settings; the defaults are kafkajs's */
  readonly consumer?: {
    readonly sessionTimeout?: number;
    readonly heartbeatInterval?: number;
    readonly maxWaitTimeInMs?: number;
    /** partitions handled at once by one consumer (still one batch per partition) */
    readonly partitionsConsumedConcurrently?: number;
    /** kafkajs's bounded retry of a failed fetch or batch before the consumer restarts */
    readonly retry?: {
      readonly retries?: number;
      readonly initialRetryTime?: number;
      readonly maxRetryTime?: number;
    };
  };
  /** records waiting for the producer before publish() is refused (default 10,000) */
  readonly maxPendingRecords?: number;
  /** bytes of keys and values coalesced into one produce request (default 512 KiB) */
  readonly maxRequestBytes?: number;
}

export class BusError extends Error {
  readonly code: "BUS_CLOSED" | "BUS_OVERLOADED" | "BUS_HANDLER_FAILED";

  constructor(code: BusError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BusError";
    this.code = code;
  }
}

const errorsAsText = (_key: string, value: unknown): unknown =>
  value instanceof Error ? `${value.name}: ${value.message}` : value;

/** kafkajs log lines as one JSON object per line on stderr. */
export const jsonLogCreator: logCreator =
  () =>
  ({ namespace, label, log }) => {
    const { timestamp, message, logger: _logger, ...extra } = log;
    const line = { time: timestamp, level: label, logger: `kafkajs.${namespace}`, msg: message };
    try {
      process.stderr.write(`${JSON.stringify({ ...line, ...extra }, errorsAsText)}\n`);
    } catch {
      process.stderr.write(`${JSON.stringify(line)}\n`); // extra held a cycle or a BigInt
    }
  };

/**
 * Creates the topic unless it exists (it is not grown if it does). For tests and the
 * workloads' development start-up; in a cluster the operator owns the topics.
 * Resolves true if this call created it.
 */
export async function createTopicIfMissing(
  kafka: Kafka,
  topic: string,
  partitions: number,
): Promise<boolean> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

interface Pending {
  readonly topic: string;
  readonly records: readonly BusRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

export class KafkaBus implements Pick<Bus, "publish" | "close"> {
  readonly #kafka: Kafka;
  readonly #options: KafkaBusOptions;
  readonly #consumers = new Set<BusConsumer>();
  readonly #queue: Pending[] = [];
  #queuedRecords = 0;
  #producer: Promise<Producer> | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;

  /** `kafka` stays the caller's: close() disconnects what this bus created, nothing else. */
  constructor(kafka: Kafka, options: KafkaBusOptions = {}) {
    this.#kafka = kafka;
    this.#options = options;
  }

  static create(config: KafkaBusConfig, options: KafkaBusOptions = {}): KafkaBus {
    const kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      ...(config.ssl !== undefined && { ssl: config.ssl }),
      ...(config.sasl !== undefined && { sasl: config.sasl }),
      logLevel: logLevel.WARN,
      logCreator: jsonLogCreator,
    });
    return new KafkaBus(kafka, options);
  }

  /**
   * Resolves once Kafka acknowledged every record (acks = all). Calls made while a produce
   * request is in flight are coalesced into the next one, so at most one request is in flight
   * per bus: kafkajs hands a failed request's sequence numbers to the next request while it
   * backs off, which concurrent requests would turn into silently dropped duplicates.
   */
  publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new BusError("BUS_CLOSED", "bus is closed"));
    if (records.length === 0) return Promise.resolve();
    const max = this.#options.maxPendingRecords ?? 10_000;
    if (this.#queuedRecords + records.length > max) {
      const msg = `${this.#queuedRecords} records already wait for Kafka (limit ${max})`;
      return Promise.reject(new BusError("BUS_OVERLOADED", msg));
    }
    const bytes = records.reduce((n, r) => n + r.key.length + r.value.length, 0);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ topic, records, bytes, resolve, reject });
    this.#queuedRecords += records.length;
    if (this.#draining === undefined) this.#draining = this.#drain();
    return promise;
  }

  /** Sends until the queue is empty; clears #draining in the same turn it finds it empty. */
  async #drain(): Promise<void> {
    const maxBytes = this.#options.maxRequestBytes ?? 512 * 1024;
    await Promise.resolve(); // let the publish() calls of this turn join the first request
    for (;;) {
      if (this.#queue.length === 0) {
        this.#draining = undefined;
        return;
      }
      const taken: Pending[] = [];
      let bytes = 0;
      for (const next of this.#queue) {
        if (taken.length > 0 && bytes + next.bytes > maxBytes) break;
        taken.push(next);
        bytes += next.bytes;
      }
      this.#queue.splice(0, taken.length);
      try {
        await this.#send(taken);
        for (const p of taken) p.resolve();
      } catch (err) {
        for (const p of taken) p.reject(err);
      } finally {
        this.#queuedRecords -= taken.reduce((n, p) => n + p.records.length, 0);
      }
    }
  }

  async #send(pending: readonly Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, records } of pending) {
      const messages = byTopic.get(topic) ?? [];
      for (const { key, value, headers } of records) messages.push({ key, value, headers });
      byTopic.set(topic, messages);
    }
    const producer = await this.#connectedProducer();
    await producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  #connectedProducer(): Promise<Producer> {
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 5,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      this.#producer = producer.connect().then(
        () => producer,
        (err: unknown) => {
          this.#producer = undefined; // the next publish tries again
          throw err;
        },
      );
    }
    return this.#producer;
  }

  /**
   * Joins the group and resolves after the first join (kafkajs's run()). A new group starts
   * at the beginning of the topic. If kafkajs's consumer crashes (retries exhausted, or a
   * handler that keeps failing) it restarts, backing off, until stop().
   */
  async consume(options: ConsumerOptions): Promise<BusConsumer> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "bus is closed");
    const { groupId, topic, onBatch, onAssignment } = options;
    const tuning = this.#options.consumer ?? {};
    let stopping = false;
    const consumer: Consumer = this.#kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      ...(tuning.sessionTimeout !== undefined && { sessionTimeout: tuning.sessionTimeout }),
      ...(tuning.heartbeatInterval !== undefined && {
        heartbeatInterval: tuning.heartbeatInterval,
      }),
      ...(tuning.maxWaitTimeInMs !== undefined && { maxWaitTimeInMs: tuning.maxWaitTimeInMs }),
      retry: { ...tuning.retry, restartOnFailure: async () => !stopping },
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (!stopping) onAssignment?.([...(payload.memberAssignment[topic] ?? [])], []);
    });

    const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
      const { batch, isRunning, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets } =
        payload;
      // after stop() kafkajs still hands out the rest of a fetch: leave it uncommitted
      if (stopping || !isRunning()) return;
      const consumed: ConsumedBatch = {
        topic: batch.topic,
        partition: batch.partition,
        records: batch.messages.map((m) => ({
          key: m.key?.toString() ?? "",
          value: m.value?.toString() ?? "",
          headers: headersOf(m.headers),
          offset: m.offset,
        })),
      };
      try {
        await onBatch(consumed);
      } catch (err) {
        // not a TypeError & co. any more: kafkajs would treat those as fatal and not restart
        const why = err instanceof Error ? err.message : String(err);
        const where = `${topic}/${batch.partition}@${batch.firstOffset()}`;
        throw new BusError("BUS_HANDLER_FAILED", `onBatch failed on ${where}: ${why}`, {
          cause: err,
        });
      }
      const last = batch.messages.at(-1);
      if (last !== undefined) resolveOffset(last.offset); // kafkajs moves past control records
      await commitOffsetsIfNecessary(uncommittedOffsets());
      await payload.heartbeat();
    };

    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: tuning.partitionsConsumedConcurrently ?? 1,
        eachBatch,
      });
    } catch (err) {
      stopping = true;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }

    let stopped: Promise<void> | undefined;
    const handle: BusConsumer = {
      stop: () => {
        stopping = true;
        stopped ??= consumer.disconnect().finally(() => this.#consumers.delete(handle));
        return stopped;
      },
    };
    this.#consumers.add(handle);
    return handle;
  }

  /** Stops the consumers still running, waits for publishes in flight, disconnects. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#consumers].map((c) => c.stop()));
    await this.#draining;
    const producer = await this.#producer?.catch(() => undefined);
    await producer?.disconnect();
  }
}
