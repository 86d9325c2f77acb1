// KafkaBus: the Bus on Apache Kafka through @platformatic/kafka (see docs/decisions/0016).
// Publish: one idempotent producer, acks = all, records with the same key on one partition
// (murmur2 masked to 31 bits: the Java client's and kafkajs's partitioner, NOT the library's
// default, which would move every room to another partition). Consume: a member of a classic
// consumer group with the cooperative-sticky assignor (a rebalance stops only the partitions
// that move) and, given an instance id, static membership (a member restarted under the same
// id takes its partitions back without a rebalance). Offsets are committed by us, per
// partition, after the handler resolved.
import type { ConnectionOptions } from "node:tls";
import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  type Message,
  type MessagesStream,
  Producer,
  type SASLOptions,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import {
  type Bus,
  type BusConsumer,
  type BusMembership,
  type BusRecord,
  type ConsumedBatch,
  type ConsumerOptions,
  LAG_INTERVAL_MS,
} from "./bus.ts";

export interface KafkaBusConfig {
  readonly brokers: string[];
  readonly clientId: string;
  readonly tls?: ConnectionOptions;
  readonly sasl?: SASLOptions;
}

export interface KafkaBusOptions {
  readonly consumer?: {
    /**
     * the broker drops a member it has not heard from for this long, and only then hands a
     * crashed member's partitions on (default 6 s, the broker's default minimum)
     */
    readonly sessionTimeout?: number;
    /** default: a tenth of the session timeout, at least 500 ms */
    readonly heartbeatInterval?: number;
    /** longest wait of a fetch for new records (default 500 ms) */
    readonly maxWaitTime?: number;
    /** how often a consumer with onLag reports it (default LAG_INTERVAL_MS) */
    readonly lagIntervalMs?: number;
    /**
     * first and longest pause before a failed batch or a lost connection is tried again
     * (default 100 ms doubling to 1 s: a longer pause is added to the wait after Kafka's return)
     */
    readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  };
  /**
   * every request to Kafka: the time the broker may take (a produce's acks = all; default 10 s)
   * and attempts after the first (default 5). The client gives up waiting for an answer after
   * the library's 30 s, a consumer after its rebalance timeout + 5 s.
   */
  readonly requestTimeout?: number;
  readonly requestRetries?: number;
  /** records waiting for the producer before publish() is refused (default 10,000) */
  readonly maxPendingRecords?: number;
  /** bytes of keys and values coalesced into one produce request (default 512 KiB) */
  readonly maxRequestBytes?: number;
}

/** How soon offsets held back while the client (re)joins are tried again, at least. */
const MIN_COMMIT_RETRY_MS = 100;

export class BusError extends Error {
  readonly code: "BUS_CLOSED" | "BUS_OVERLOADED" | "BUS_HANDLER_FAILED" | "BUS_COMMIT_FAILED";

  constructor(code: BusError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BusError";
    this.code = code;
  }
}

/** longest a stopping member waits for its pipelined batches to resolve and commit */
const STOP_DRAIN_MS = 10_000;

const COOPERATIVE = [{ name: "cooperative-sticky", version: 1 }];

function baseOptions(config: KafkaBusConfig, options: KafkaBusOptions, clientId = config.clientId) {
  return {
    clientId,
    bootstrapBrokers: config.brokers,
    timeout: options.requestTimeout ?? 10_000,
    retries: options.requestRetries ?? 5,
    retryDelay: 250,
    ...(config.tls !== undefined && { tls: config.tls }),
    ...(config.sasl !== undefined && { sasl: config.sasl }),
  };
}

/** one JSON line on stderr, the shape of the workloads' other log lines */
function warn(msg: string, extra: Record<string, unknown>): void {
  const line = { time: Date.now(), level: "WARN", logger: "bus.kafka", msg, ...extra };
  process.stderr.write(
    `${JSON.stringify(line, (_k, v) => (v instanceof Error ? describe(v) : v))}\n`,
  );
}

/** An error's message and the Kafka error codes inside it (a response's nested errors). */
function describe(err: Error): string {
  const codes = new Set<string>();
  const visit = (e: unknown, depth: number): void => {
    if (depth > 4 || typeof e !== "object" || e === null) return;
    const { apiId, errors, cause } = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (typeof apiId === "string") codes.add(apiId);
    if (Array.isArray(errors)) for (const x of errors) visit(x, depth + 1);
    visit(cause, depth + 1);
  };
  visit(err, 0);
  return codes.size === 0 ? err.message : `${err.message} [${[...codes].join(", ")}]`;
}

/**
 * Creates the topic unless it exists (it is not grown if it does). For tests and the
 * workloads' development start-up; in a cluster the operator owns the topics.
 * Resolves true if this call created it.
 */
export async function createTopicIfMissing(
  config: KafkaBusConfig,
  topic: string,
  partitions: number,
): Promise<boolean> {
  const admin = new Admin(baseOptions(config, {}, `${config.clientId}-admin`));
  try {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return false;
    try {
      await admin.createTopics({ topics: [topic], partitions, replicas: -1 });
    } catch (err) {
      if (/already exists/i.test(JSON.stringify(err, errorText))) return false;
      throw err;
    }
    // wait until every partition has a leader: a producer racing a fresh topic fails otherwise
    for (let attempt = 0; attempt < 100; attempt++) {
      const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
      const parts = meta.topics.get(topic)?.partitions ?? [];
      if (parts.length === partitions && parts.every((p) => p !== undefined && p.leader >= 0)) {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`topic ${topic} has no leader for every partition after 10 s`);
  } finally {
    await admin.close();
  }
}

const errorText = (_key: string, value: unknown): unknown =>
  value instanceof Error
    ? { message: value.message, errors: (value as { errors?: unknown }).errors }
    : value;

interface Pending {
  readonly topic: string;
  readonly records: readonly BusRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

type StringConsumer = Consumer<string, string, string, string>;
type StringMessage = Message<string, string, string, string>;

export class KafkaBus implements Bus {
  readonly #config: KafkaBusConfig;
  readonly #options: KafkaBusOptions;
  readonly #members = new Set<GroupMember>();
  readonly #queue: Pending[] = [];
  #queuedRecords = 0;
  #producer: Producer<string, string, string, string> | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;
  #admin: Admin | undefined;

  constructor(config: KafkaBusConfig, options: KafkaBusOptions = {}) {
    this.#config = config;
    this.#options = options;
  }

  /**
   * Resolves once Kafka acknowledged every record (acks = all). Calls made while a produce
   * request is in flight are coalesced into the next one: one request in flight per bus keeps
   * the idempotent producer's sequence numbers in order.
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
    if (this.#producer === undefined) {
      this.#producer = new Producer({
        ...baseOptions(this.#config, this.#options),
        serializers: stringSerializers,
        idempotent: true, // implies acks = all
        partitioner: compatibilityPartitioner,
        autocreateTopics: false,
      });
      // unhandled, an 'error' event would end the process; send() reports its own failures
      this.#producer.on("error", (err: unknown) => warn("producer error", { err }));
    }
    await this.#producer.send({
      messages: pending.flatMap(({ topic, records }) =>
        records.map(({ key, value, headers }) => ({ topic, key, value, headers: { ...headers } })),
      ),
    });
  }

  /**
   * Joins the group and resolves once this member has its first assignment. A new group starts
   * at the beginning of the topic (with `start: "latest"`, at its end, committing nothing). A failed batch, a failed commit or a lost connection ends
   * the member's current client; a new one starts after a backoff, until stop().
   */
  async consume(options: ConsumerOptions): Promise<BusConsumer> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "bus is closed");
    const member = new GroupMember(this.#config, this.#options, options, () =>
      this.#members.delete(member),
    );
    this.#members.add(member);
    try {
      await member.start();
    } catch (err) {
      await member.stop();
      throw err;
    }
    return member;
  }

  /**
   * Resolves once a broker answers a metadata request within `timeoutMs`: Kafka can take a
   * publish now. The admin client used for it is dropped after a failure, so the next ping
   * starts on fresh connections.
   */
  async ping(timeoutMs = 2_000): Promise<void> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "bus is closed");
    this.#admin ??= new Admin(baseOptions(this.#config, {}, `${this.#config.clientId}-ping`));
    const admin = this.#admin;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        admin.listTopics(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Kafka did not answer in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (this.#admin === admin) this.#admin = undefined;
      void admin.close().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the consumers still running, waits for publishes in flight, disconnects. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#members].map((m) => m.stop()));
    await this.#draining;
    await this.#producer?.close();
    await this.#admin?.close().catch(() => undefined);
  }
}

/** One member of a consumer group: a client of its own, replaced after any failure. */
class GroupMember implements BusConsumer {
  readonly #config: KafkaBusConfig;
  readonly #options: KafkaBusOptions;
  readonly #o: ConsumerOptions;
  readonly #onStopped: () => void;
  #consumer: StringConsumer | undefined;
  #stream: MessagesStream<string, string, string, string> | undefined;
  #partitions: readonly number[] = [];
  /**
   * Per partition, the offset after the last batch this client committed. The library may hand
   * out records again that it had fetched before a rebalance refreshed its positions from the
   * committed offsets; those below this mark were handled and committed already.
   */
  readonly #handledUpTo = new Map<number, bigint>();
  /** per partition, pipelined batches in flight (the `pipeline` option) and their commit chain */
  readonly #lanes = new Map<number, { tail: Promise<void>; inFlight: Set<Promise<void>> }>();
  /** counts joins: a pipelined batch handed out before the latest one is not committed */
  #generation = 0;
  /**
   * Pipelined: per partition, the offset after the last batch that resolved with every earlier
   * one, not committed yet (the `commitEveryMs` option); cleared on each join.
   */
  readonly #toCommit = new Map<number, { offset: bigint; leaderEpoch: number }>();
  #commitTimer: NodeJS.Timeout | undefined;
  /** the commits sent so far, in order */
  #commits: Promise<void> = Promise.resolve();
  /**
   * The group generation (Kafka's generationId) and partitions of this member's latest join,
   * kept across restarts of its client: a static member that rejoins in the generation after
   * (or, without a rebalance, in the same one) held its partitions throughout.
   */
  #latest: { generation: number; partitions: readonly number[] } | undefined;
  /** the client's assignment object #latest was taken from (a new one: a new round) */
  #recordedAssignments: unknown;
  #joined = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #failures = 0;
  /** an error the client reported outside any call of ours: the loop restarts the client */
  #failure: Error | undefined;

  constructor(
    config: KafkaBusConfig,
    options: KafkaBusOptions,
    consumerOptions: ConsumerOptions,
    onStopped: () => void,
  ) {
    this.#config = config;
    this.#options = options;
    this.#o = consumerOptions;
    this.#onStopped = onStopped;
  }

  /** the first life: its errors go to consume()'s caller */
  async start(): Promise<void> {
    await this.#begin();
    this.#loop = this.#run();
  }

  membership(): BusMembership {
    return { joined: this.#joined, partitions: this.#partitions };
  }

  stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    this.#stopped ??= (async () => {
      await this.#loop;
      await this.#drain(STOP_DRAIN_MS);
      await this.#flushCommits();
      await this.#end();
      this.#onStopped();
    })();
    return this.#stopped;
  }

  async #begin(): Promise<void> {
    const tuning = this.#options.consumer ?? {};
    const sessionTimeout = tuning.sessionTimeout ?? 6_000;
    const rebalanceTimeout = Math.max(sessionTimeout, 30_000);
    const consumer: StringConsumer = new Consumer({
      ...baseOptions(this.#config, this.#options, this.#o.instanceId ?? this.#config.clientId),
      // The broker holds a JoinGroup until every member rejoined, up to the rebalance timeout.
      // The library's own request timeout (30 s) equalled ours, so a join the broker answered
      // at the end of that wait raced the client giving it up, and the member tried again into
      // the next round. As Kafka's Java client does: the rebalance timeout plus 5 s.
      requestTimeout: rebalanceTimeout + 5_000,
      groupId: this.#o.groupId,
      deserializers: stringDeserializers,
      sessionTimeout,
      rebalanceTimeout,
      heartbeatInterval: tuning.heartbeatInterval ?? Math.max(500, Math.floor(sessionTimeout / 10)),
      protocols: COOPERATIVE,
      maxWaitTime: tuning.maxWaitTime ?? 500,
      autocommit: false,
      ...(this.#o.instanceId !== undefined && { groupInstanceId: this.#o.instanceId }),
    });
    this.#consumer = consumer;
    consumer.on("consumer:group:join", (p) => {
      this.#joined = true;
      this.#generation++;
      this.#toCommit.clear(); // resolved in the generation before: a later batch's covers it
      const mine = (p.assignments ?? []).flatMap((a) =>
        a.topic === this.#o.topic ? a.partitions : [],
      );
      this.#partitions = [...mine].sort((a, b) => a - b);
      for (const p of this.#handledUpTo.keys()) {
        if (!this.#partitions.includes(p)) this.#handledUpTo.delete(p); // another member's now
      }
      // Each generation has one assignment, so a partition held in two consecutive ones (or
      // twice in the same) was no other member's in between. A skipped generation (a
      // cooperative revocation round, or our session lost while the client was away) may have
      // given it to another member meanwhile.
      const latest = this.#latest;
      const generation = p.generationId ?? Number.NaN;
      const consecutive =
        latest !== undefined &&
        (generation === latest.generation || generation === latest.generation + 1);
      const kept = consecutive ? this.#partitions.filter((x) => latest.partitions.includes(x)) : [];
      this.#latest = { generation, partitions: this.#partitions };
      this.#recordedAssignments = consumer.assignments;
      if (!this.#stopping) this.#o.onAssignment?.([...this.#partitions], kept);
    });
    // A cooperative revocation round (the client gives partitions up, then rejoins at once)
    // ends without a join event: the library sets the round's assignment and emits a rebalance.
    // What the member keeps in that round it holds throughout, so the round counts as its
    // latest generation; without this, the join after it looked like a skipped generation and
    // every kept partition's rooms were read again (in a Cassandra outage: stalled). The same
    // event also marks a rebalance starting, with the assignment unchanged: recorded only when
    // the library's assignment is a new one since the last recorded.
    consumer.on("consumer:group:rebalance", () => {
      const assignments = consumer.assignments;
      if (assignments === null || assignments === this.#recordedAssignments) return;
      this.#recordedAssignments = assignments;
      const held = assignments.flatMap((a) => (a.topic === this.#o.topic ? a.partitions : []));
      this.#latest = { generation: consumer.generationId, partitions: held };
    });
    consumer.on("consumer:group:leave", () => {
      this.#joined = false;
    });
    // e.g. a failed rejoin: unhandled, an 'error' event would end the process
    consumer.on("error", (err: unknown) => {
      this.#failure ??= err instanceof Error ? err : new Error(String(err));
      this.#wake?.();
    });
    const onLag = this.#o.onLag;
    if (onLag !== undefined) {
      consumer.on("consumer:lag", (offsets: Map<string, bigint[]>) => {
        const lag = new Map<number, number>();
        for (const [p, l] of (offsets.get(this.#o.topic) ?? []).entries()) {
          if (l >= 0n) lag.set(p, Number(l)); // -1: not this member's partition
        }
        onLag(lag);
      });
      consumer.on("consumer:lag:error", () => undefined); // the next interval tries again
    }
    const latest = this.#o.start === "latest";
    const stream = await consumer.consume({
      topics: [this.#o.topic],
      mode: latest ? "latest" : "committed",
      fallbackMode: "earliest",
    });
    this.#stream = stream;
    if (onLag !== undefined) {
      consumer.startLagMonitoring(
        { topics: [this.#o.topic] },
        this.#options.consumer?.lagIntervalMs ?? LAG_INTERVAL_MS,
      );
    }
    const positioned = latest ? this.#positioned(stream) : undefined;
    stream.on("readable", () => this.#wake?.());
    stream.on("error", () => this.#wake?.());
    stream.on("close", () => this.#wake?.());
    await positioned;
  }

  /** Resolves once the stream has listed the offsets it starts from (bounded in time). */
  #positioned(stream: MessagesStream<string, string, string, string>): Promise<void> {
    const timeoutMs = this.#options.requestTimeout ?? 10_000;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(
      () => reject(new Error(`no start offsets for ${this.#o.topic} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const failed = (err: unknown) => reject(err);
    const closed = () => reject(new Error("the consumer's stream closed"));
    stream.once("offsets", () => resolve());
    stream.once("error", failed);
    stream.once("close", closed);
    return promise.finally(() => {
      clearTimeout(timer);
      stream.off("error", failed);
      stream.off("close", closed);
    });
  }

  /** Closes the current client; a static member leaves the group too (a clean stop). */
  async #end(): Promise<void> {
    const consumer = this.#consumer;
    const stream = this.#stream;
    this.#consumer = undefined;
    this.#stream = undefined;
    this.#joined = false;
    this.#partitions = [];
    this.#handledUpTo.clear();
    this.#lanes.clear();
    this.#toCommit.clear();
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    this.#failure = undefined;
    await stream?.close().catch(() => undefined);
    await consumer?.close(true).catch(() => undefined);
  }

  /** Batches until stop(); after a failure, a new client after a capped, doubling pause. */
  async #run(): Promise<void> {
    const retry = this.#options.consumer?.retry ?? {};
    while (!this.#stopping) {
      try {
        if (this.#stream === undefined) await this.#begin();
        await this.#next();
        this.#failures = 0;
      } catch (err) {
        if (this.#stopping) break;
        this.#failures++;
        const pause = Math.min(
          (retry.initialMs ?? 100) * 2 ** (this.#failures - 1),
          retry.maxMs ?? 1_000,
        );
        warn("consumer restarts", { groupId: this.#o.groupId, topic: this.#o.topic, pause, err });
        await this.#end();
        await this.#sleep(pause);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, ms);
    this.#wake = () => {
      clearTimeout(timer);
      resolve();
    };
    return promise;
  }

  /** Waits for records, hands them to onBatch one partition at a time, commits each. */
  async #next(): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined) return;
    if (this.#failure !== undefined) throw this.#failure;
    const messages: StringMessage[] = [];
    for (let m = stream.read() as StringMessage | null; m !== null; m = stream.read()) {
      messages.push(m);
    }
    if (messages.length === 0) {
      if (stream.destroyed || stream.closed) {
        throw stream.errored ?? new Error("the consumer's stream ended");
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      if (stream.readableLength === 0 && !this.#stopping) await promise;
      return;
    }
    const byPartition = new Map<number, StringMessage[]>();
    for (const m of messages) {
      const list = byPartition.get(m.partition);
      if (list === undefined) byPartition.set(m.partition, [m]);
      else list.push(m);
    }
    for (const [partition, records] of byPartition) {
      // after stop(), or when a rebalance took the partition away, leave the rest uncommitted
      if (this.#stopping || !this.#partitions.includes(partition)) continue;
      if ((this.#o.pipeline ?? 1) > 1) await this.#dispatch(partition, records);
      else await this.#handle(partition, records);
    }
  }

  /**
   * Pipelined: hands the batch to onBatch now and commits it once it and every earlier batch of
   * the partition resolved (with the others resolved within `commitEveryMs`), waiting first
   * while `pipeline` batches are in flight. A rejection ends the client (the next one starts
   * from the committed offsets); a commit is skipped once the partition was reassigned since
   * the batch was handed out (a later batch's covers it).
   */
  async #dispatch(partition: number, fetched: readonly StringMessage[]): Promise<void> {
    const from = this.#handledUpTo.get(partition) ?? -1n;
    const records = fetched.filter((m) => m.offset >= from);
    const last = records.at(-1);
    const consumer = this.#consumer;
    if (last === undefined || consumer === undefined) return;
    let lane = this.#lanes.get(partition);
    if (lane === undefined) {
      lane = { tail: Promise.resolve(), inFlight: new Set() };
      this.#lanes.set(partition, lane);
    }
    while (lane.inFlight.size >= (this.#o.pipeline ?? 1) && !this.#stopping) {
      await Promise.race(lane.inFlight);
    }
    if (this.#stopping || this.#consumer !== consumer) return;
    this.#handledUpTo.set(partition, last.offset + 1n); // handed out: never handed out again
    const generation = this.#generation;
    const handled = this.#o.onBatch(this.#batchOf(partition, records, consumer));
    const done = lane.tail
      .then(() => handled)
      .then(async () => {
        if (this.#consumer !== consumer || this.#generation !== generation) return;
        this.#toCommit.set(partition, { offset: last.offset + 1n, leaderEpoch: last.leaderEpoch });
        const every = this.#o.commitEveryMs ?? 0;
        if (every <= 0) await this.#flushCommits();
        else this.#commitTimer ??= setTimeout(() => void this.#flushCommits(), every);
      });
    lane.tail = done;
    const tracked: Promise<void> = done.then(
      () => {
        lane.inFlight.delete(tracked);
      },
      (err: unknown) => {
        lane.inFlight.delete(tracked);
        if (this.#consumer !== consumer) return;
        const why = err instanceof Error ? err.message : String(err);
        this.#failure ??= new BusError(
          "BUS_HANDLER_FAILED",
          `onBatch failed on ${this.#o.topic}/${partition}@${records[0]?.offset}: ${why}`,
          { cause: err },
        );
        this.#wake?.();
      },
    );
    lane.inFlight.add(tracked);
  }

  /**
   * Commits every offset #toCommit holds, in one request, after the commits before it. A
   * failed commit ends the client, as a failed batch does. Not while the client is (re)joining
   * the group: a commit then fails (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION) and the library
   * answers each such failure with another JoinGroup, so commits every 100 ms kept the group
   * rebalancing for seconds (the broker logged the leader "re-joining group during Stable" every
   * 0.6 s) until six failures in a row ended the client. The offsets wait for the next tick;
   * those of a generation that ends meanwhile are dropped at the join (later batches cover them).
   */
  #flushCommits(): Promise<void> {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    const consumer = this.#consumer;
    if (consumer === undefined || this.#toCommit.size === 0) return this.#commits;
    if (!consumer.isActive() && !this.#stopping) {
      const every = Math.max(this.#o.commitEveryMs ?? 0, MIN_COMMIT_RETRY_MS);
      this.#commitTimer = setTimeout(() => void this.#flushCommits(), every);
      return this.#commits;
    }
    const offsets = [...this.#toCommit].map(([partition, o]) => ({
      topic: this.#o.topic,
      partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch,
    }));
    this.#toCommit.clear();
    this.#commits = this.#commits
      .then(() => consumer.commit({ offsets }))
      .catch((err: unknown) => {
        if (this.#consumer !== consumer) return;
        const why = err instanceof Error ? err.message : String(err);
        this.#failure ??= new BusError(
          "BUS_COMMIT_FAILED",
          `committing ${offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(", ")} failed: ${why}`,
          { cause: err },
        );
        this.#wake?.();
      });
    return this.#commits;
  }

  /** Waits (at most `ms`) for the pipelined batches in flight to resolve and commit. */
  async #drain(ms: number): Promise<void> {
    const pending = [...this.#lanes.values()].flatMap((l) => [...l.inFlight]);
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  #batchOf(
    partition: number,
    records: readonly StringMessage[],
    consumer: StringConsumer | undefined,
  ): ConsumedBatch {
    return {
      topic: this.#o.topic,
      partition,
      current: () => this.#consumer === consumer && this.#partitions.includes(partition),
      records: records.map((m) => ({
        key: m.key ?? "",
        value: m.value ?? "",
        headers: Object.fromEntries(m.headers),
        offset: m.offset.toString(),
      })),
    };
  }

  async #handle(partition: number, fetched: readonly StringMessage[]): Promise<void> {
    const from = this.#handledUpTo.get(partition) ?? -1n;
    const records = fetched.filter((m) => m.offset >= from);
    if (records.length === 0) return;
    try {
      await this.#o.onBatch(this.#batchOf(partition, records, this.#consumer));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const where = `${this.#o.topic}/${partition}@${records[0]?.offset}`;
      throw new BusError("BUS_HANDLER_FAILED", `onBatch failed on ${where}: ${why}`, {
        cause: err,
      });
    }
    const last = records.at(-1);
    if (last === undefined || this.#consumer === undefined) return;
    if (this.#o.start === "latest") {
      this.#handledUpTo.set(partition, last.offset + 1n); // a listener commits nothing
      return;
    }
    await this.#consumer.commit({
      offsets: [
        {
          topic: this.#o.topic,
          partition,
          offset: last.offset + 1n,
          leaderEpoch: last.leaderEpoch,
        },
      ],
    });
    this.#handledUpTo.set(partition, last.offset + 1n);
  }
}
