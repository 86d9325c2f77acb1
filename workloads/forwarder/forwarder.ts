// The forwarder: a member of one consumer group on the messages topic. It gives each message
// its room's next seq, routes it at once to exactly the gateway pods that hold its receivers
// (which answers the sender's ack), writes it to the store behind the route, and lets the bus
// commit a batch only once everything in it is stored. A crash repeats work, never skips it.
//
// Where a room's order lives (docs/decisions/0020): Kafka holds every message before the
// gateway lets it in (acks = all); the forwarder that owns a partition — one at a time, and the
// bus keys events by room — gives seqs in offset order from the room's stored last seq, and a
// room's writes land in seq order, one after the other. So what the store holds of a room is
// always a prefix of what was sequenced, and a member that takes the partition over after a
// crash replays from the committed offset and gives every replayed message the same seq again:
// an acked message survives any single crash, the store's included, and a store outage stops
// only writes, not acks. The store is the materialised view of that order: it lags the ack by
// one write, or by an outage, and catches up in order.
//
// De-duplication: a retry carries its message's id. Each room keeps the ids of its latest
// DEDUP_WINDOW messages in memory (restored with one read when this member first sequences the
// room after an assignment) and the messages not yet stored; a retry whose original is older
// than that window is sequenced again (a second seq for the same id, which clients and
// gateways drop by id), never lost.
//
// The store losing writes it acknowledged (a commit log that was not synced) is detected when a
// write fails: before trying again, the member reads the room's stored last seq and writes back
// what it remembers above it (seq_regressions), so a seq is never given twice.
//
// Routing never stops because the registry does not answer (decision 0019): an event whose
// receivers cannot be looked up goes to every gateway (registry-fallback.ts).
import { SpanKind } from "@opentelemetry/api";
import type { Logger } from "#contract/telemetry/log";
import { contextFrom, inSpan, SpanNames, traceHeaders } from "#contract/telemetry/tracing";
import {
  type Bus,
  type BusConsumer,
  type ConsumedBatch,
  type ConsumerOptions,
  groupStatus,
  joinGroup,
} from "../shared/backends/bus.ts";
import { type Delivery, EVERY_GATEWAY } from "../shared/backends/delivery.ts";
import {
  REGISTRY_EPOCH_CHECK_MS,
  REGISTRY_SETTLE_MS,
  type Registry,
  type RoomRouter,
} from "../shared/backends/registry.ts";
import { MAX_MESSAGES_PER_WRITE, type Store } from "../shared/backends/store.ts";
import type { StoredMessage } from "../shared/domain.ts";
import {
  type BusEvent,
  type Delivery as DeliveryPayload,
  decodeBusEvent,
  encode,
  fromStored,
} from "../shared/events.ts";
import type { Metrics } from "../shared/telemetry/metrics.ts";
import { RegistryFallback } from "./registry-fallback.ts";

export interface ForwarderOptions {
  readonly bus: Bus;
  readonly store: Store;
  readonly registry: Registry;
  readonly delivery: Delivery;
  /** the registry and delivery in one step, where the backends have it (room messages only) */
  readonly roomRouter?: RoomRouter;
  readonly topic: string;
  readonly groupId: string;
  /** this member's stable name in the group (the Pod name), for static membership */
  readonly instanceId?: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** the clock, in ms, compared with the registry's epoch; default Date.now */
  readonly now?: () => number;
  /** first and longest pause between tries of a store or routing call that failed */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

/** Where a payload goes: the gateways of a room, of users, or both. */
/** `seq`: a message's, recorded in the registry as the room's routed seq when it is looked up */
type Target = {
  readonly roomId?: string;
  readonly seq?: number;
  readonly userIds?: readonly string[];
};
type Outgoing = { gatewayId: string; payload: string };
/** what an event wrote: settles once stored */
type Written = { readonly written: Promise<void> };
const NOTHING_WRITTEN: Written = { written: Promise.resolve() };

/** Ids of a room's latest messages kept for de-duplication (one history page restores them). */
export const DEDUP_WINDOW = 100;
/** Latest stored messages kept per room, to write back what a store that lost them forgot. */
const RECENT_PER_ROOM = 32;
/** Rooms kept in memory; the least recently used idle ones are forgotten first. */
const KNOWN_ROOMS = 20_000;
/** Batches of a partition in flight at once (routed, their writes pending). */
export const PIPELINE = 4_096;
/**
 * Offsets are committed together at most this often, not once per batch: at low rates a
 * batch is one message, and its commit cost Kafka more CPU than its produce. A partition taken
 * over replays at most this much more (stored already, so found and routed as duplicates).
 */
export const COMMIT_EVERY_MS = 100;
/** Payloads sent to gateways in one call. */
const ROUTE_CHUNK = 2_000;
/** Payloads routed in one call of the room router (a Redis script holds Redis while it runs). */
const ROUTER_CALL = 256;

/** A message given its seq, waiting to be stored. */
interface PendingWrite {
  readonly message: StoredMessage;
  /** settles once stored (rejects only when the member stops first) */
  readonly stored: PromiseWithResolvers<void>;
}

/** Characters of message text in one store write, beside MAX_MESSAGES_PER_WRITE. */
const MAX_TEXT_PER_WRITE = 16_000;

/** What this member knows of one room. */
interface Room {
  readonly id: string;
  /** sequencing steps, one after another in bus order */
  chain: Promise<void>;
  /** messages to store, in seq order; the writer takes them from the head, a few at a time */
  readonly queue: PendingWrite[];
  /** the writer, while the queue has messages */
  writer: Promise<void> | undefined;
  /** the bus partition its events came from last */
  partition: number | undefined;
  /** the highest seq given, once read from the store since the latest assignment */
  lastSeq: number | undefined;
  /** the highest seq the store confirmed to this member (a floor it must never fall below) */
  confirmed: number;
  /** message id → seq, the latest DEDUP_WINDOW, oldest first */
  readonly ids: Map<string, number>;
  /** messages given a seq and not stored yet, by id */
  readonly unstored: Map<string, PendingWrite>;
  /** the latest stored messages, oldest first (RECENT_PER_ROOM) */
  recent: StoredMessage[];
  /** a write failed: read the store's last seq before the next try */
  suspect: boolean;
  /**
   * Since the latest (re)read, no message was new yet: the bus may be replaying what an earlier
   * owner handled, so an id missing from memory is looked up in the store. The store holds a
   * prefix of each room's sequence, so after the first message it lacks, none is stored.
   */
  replaying: boolean;
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #rooms = new Map<string, Room>();
  /** payloads waiting to be routed, in order */
  #outbox: { target: Target; payload: string }[] = [];
  #routing: Promise<void> | undefined;
  /** every live gateway while the registry settles after a loss, re-read once per interval */
  #settling: { checkedAt: number; gateways: Promise<readonly string[]> } | undefined;
  #consumer: BusConsumer | undefined;
  #stopping = false;
  /** wakes the pauses between retries when stopping */
  readonly #wakers = new Set<() => void>();

  /** where receivers are while the registry does not answer: every gateway */
  readonly #registry: RegistryFallback;

  constructor(options: ForwarderOptions) {
    this.#o = options;
    const { registry, log } = options;
    this.#registry = new RegistryFallback({
      ping: () => registry.ping(),
      ...(options.now !== undefined && { now: options.now }),
      onDown: (err) =>
        log.warn({ err }, "the registry does not answer: sending every event to every gateway"),
      onUp: () => log.info("the registry answers again: routing by it"),
    });
  }

  /** The consumer group check of /readyz (groupStatus). */
  async groupCheck(): Promise<string> {
    return groupStatus(this.#consumer, this.#o.groupId);
  }

  /** Joins the group, waiting (not exiting) until it can or stop() is called (joinGroup). */
  async start(): Promise<void> {
    this.#stopping = false;
    const options: ConsumerOptions = {
      groupId: this.#o.groupId,
      topic: this.#o.topic,
      pipeline: PIPELINE,
      commitEveryMs: COMMIT_EVERY_MS,
      ...(this.#o.instanceId !== undefined && { instanceId: this.#o.instanceId }),
      onBatch: (batch) => this.handleBatch(batch),
      onAssignment: (partitions, kept) => this.assigned(partitions, kept),
      onLag: (lag) => {
        // only the partitions held now: one handed on stops being reported here
        this.#o.metrics.consumerLag.reset();
        for (const [p, n] of lag) this.#o.metrics.consumerLag.set({ partition: String(p) }, n);
      },
    };
    this.#consumer = await joinGroup(this.#o.bus, options, {
      log: this.#o.log,
      stopping: () => this.#stopping,
      pause: (ms) => this.#pause(ms),
    });
  }

  /**
   * After every join of the group: another member may have sequenced a room since we last did —
   * even on a partition we hold again (we may have been out of the group meanwhile, our client
   * restarted) — so its last seq is read again before its next message. Only the rooms of
   * partitions the bus says we `kept` (held without a break) go on from memory: a join during
   * a store outage then does not stop their acks until the store is back.
   */
  assigned(partitions: readonly number[], kept: readonly number[] = []): void {
    for (const room of this.#rooms.values()) {
      if (room.partition === undefined || !kept.includes(room.partition)) room.lastSeq = undefined;
    }
    this.#o.log.info({ partitions, kept }, "partitions assigned");
  }

  /** Stops consuming once the batches in flight are stored, routed and committed (bounded). */
  async stop(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.stop();
    this.#stopping = true;
    for (const wake of this.#wakers) wake();
    await this.#routing;
  }

  /**
   * One batch: each event joins its room's sequence at once (in the order batches are given),
   * is routed as soon as it is sequenced, and the returned promise resolves once every write of
   * the batch is stored — the bus commits the batch only then.
   */
  handleBatch(batch: ConsumedBatch): Promise<void> {
    const end = this.#o.metrics.batchSeconds.startTimer();
    const durable: Promise<void>[] = [];
    for (const record of batch.records) {
      const event = decodeBusEvent(record.value);
      if (event === undefined) {
        this.#o.metrics.busConsumed.inc({ kind: "unknown", outcome: "dropped" });
        this.#o.log.error(
          { partition: batch.partition, offset: record.offset },
          "undecodable bus record dropped",
        );
        continue;
      }
      durable.push(this.#enqueue(event, record.headers, batch, record.offset));
    }
    return Promise.all(durable).then(() => {
      end();
    });
  }

  /** Adds the event to its room's sequence; resolves once what it wrote is stored. */
  #enqueue(
    event: BusEvent,
    headers: Readonly<Record<string, string>>,
    batch: ConsumedBatch,
    offset: string,
  ): Promise<void> {
    const { partition } = batch;
    const room = this.#room(event.roomId);
    if (room.partition !== partition) {
      // one room, one partition: the bus keys events by room. Two partitions mean two members
      // may sequence the room at once (the topic grew, or a producer placed a record wrongly)
      if (room.partition !== undefined) {
        this.#o.log.error(
          { roomId: room.id, partition, offset, before: room.partition },
          "a room's events come from a second partition",
        );
      }
      room.partition = partition;
    }
    const { promise: durable, resolve, reject } = Promise.withResolvers<void>();
    room.chain = room.chain.then(async () => {
      if (batch.current?.() === false) {
        // the partition is another client's now (ours restarted, or a rebalance took it): it
        // starts from the committed offset, so this event is handled there, once
        this.#o.metrics.busConsumed.inc({ kind: event.kind, outcome: "abandoned" });
        resolve();
        return;
      }
      try {
        const { written } = await this.#step(room, event, headers, batch, offset);
        written.then(resolve, reject);
      } catch (err) {
        reject(err);
      }
    });
    return durable;
  }

  /**
   * Sequences and routes one event; resolves `written`, which settles once its write is stored
   * (wrapped: a promise resolved with a promise would wait for it).
   */
  async #step(
    room: Room,
    event: BusEvent,
    headers: Readonly<Record<string, string>>,
    batch: ConsumedBatch,
    offset: string,
  ): Promise<Written> {
    switch (event.kind) {
      case "message":
        return inSpan(
          SpanNames.forward,
          SpanKind.CONSUMER,
          contextFrom(headers),
          { "switchboard.room_id": event.roomId, "switchboard.message_id": event.id },
          () => this.#message(room, event, batch, offset),
        );
      case "seen": {
        this.#o.metrics.busConsumed.inc({ kind: "seen", outcome: "stored" });
        let seq = event.seq;
        const written = this.#retry("store a read position", async () => {
          seq = (
            await this.#o.store.advanceReadPosition({
              roomId: event.roomId,
              userId: event.userId,
              seq: event.seq,
              at: new Date(),
            })
          ).seq;
        });
        // the position now held (never backwards): known once stored, else the one asked for
        await Promise.race([written, this.#settled()]);
        this.#route(
          { roomId: event.roomId },
          { kind: "seen", roomId: event.roomId, userId: event.userId, seq },
        );
        return { written };
      }
      case "matched":
        return inSpan(
          SpanNames.matchRoute,
          SpanKind.CONSUMER,
          contextFrom(headers),
          { "switchboard.room_id": event.roomId, "switchboard.user_id": event.userId },
          async () => {
            this.#o.metrics.busConsumed.inc({ kind: "matched", outcome: "routed" });
            this.#route({ userIds: [event.userId] }, event);
            return NOTHING_WRITTEN;
          },
        );
      case "member": {
        // the room's gateways tell their sockets; the user's gateways (re)subscribe their sockets
        const fromSeq = event.change === "joined" ? await this.#lastSeq(room) : undefined;
        this.#o.metrics.busConsumed.inc({ kind: "member", outcome: "routed" });
        this.#route(
          { roomId: event.roomId, userIds: [event.userId, ...(event.notify ?? [])] },
          {
            kind: "member",
            roomId: event.roomId,
            userId: event.userId,
            change: event.change,
            ...(fromSeq !== undefined ? { fromSeq } : {}),
            ...(event.requestId ? { requestId: event.requestId } : {}),
            ...(event.notify ? { notify: event.notify } : {}),
          },
        );
        return NOTHING_WRITTEN;
      }
    }
  }

  async #message(
    room: Room,
    event: Extract<BusEvent, { kind: "message" }>,
    batch: ConsumedBatch,
    offset: string,
  ): Promise<Written> {
    const last = await this.#lastSeq(room); // also restores the room's de-duplication window
    const known = await this.#known(room, event.id);
    if (known !== undefined) {
      // stored by another member after we read the room (it held the partition until just
      // now): the next seq comes after it
      if (known.seq > (room.lastSeq ?? 0)) room.lastSeq = known.seq;
      // found in the store by id (outside the window read): later copies are found in memory
      if (!room.ids.has(known.id)) this.#addId(room, known.id, known.seq);
      this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "duplicate" });
      this.#o.log.debug(
        { roomId: room.id, seq: known.seq, id: event.id, partition: room.partition, offset },
        "duplicate",
      );
      this.#route({ roomId: room.id, seq: known.seq }, messagePayload(known));
      // durable once the original is: it is in this room's write queue, or stored already
      const original = room.unstored.get(event.id);
      return original === undefined ? NOTHING_WRITTEN : { written: original.stored.promise };
    }
    const sentAt = Date.parse(event.sentAt);
    const message: StoredMessage = {
      roomId: event.roomId,
      seq: last + 1,
      id: event.id,
      senderId: event.senderId,
      clientMsgId: event.clientMsgId,
      msgType: event.msgType,
      content: event.content,
      // from the event, so that a replay after a crash stores what the first ack said
      createdAt: Number.isNaN(sentAt) ? new Date() : new Date(sentAt),
      ...(event.replyTo === undefined ? {} : { replyTo: event.replyTo }),
    };
    room.lastSeq = message.seq;
    this.#o.log.debug(
      { roomId: room.id, seq: message.seq, id: message.id, partition: room.partition, offset },
      "sequenced",
    );
    // Routed (acked) at once, before its write is stored (docs/decisions/0024): Kafka holds
    // it, and a replay after any crash gives it this seq. The room's writes coalesce meanwhile:
    // the messages sequenced while one write is out go together in the next.
    const pending: PendingWrite = { message, stored: Promise.withResolvers<void>() };
    room.unstored.set(message.id, pending);
    this.#o.metrics.unstoredMessages.inc();
    this.#addId(room, message.id, message.seq);
    room.queue.push(pending);
    this.#startWriter(room);
    if (batch.current?.() === false) {
      // the partition changed hands while the room was read: no ack from this member, the new
      // holder replays the message and acks it (the write goes on: it is what any holder gives
      // this message)
      return { written: pending.stored.promise };
    }
    this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "routed" });
    this.#route({ roomId: room.id, seq: message.seq }, messagePayload(message));
    return { written: pending.stored.promise };
  }

  /** The message this id was given, from memory or (outside the window) the store. */
  async #known(room: Room, id: string): Promise<StoredMessage | undefined> {
    const unstored = room.unstored.get(id);
    if (unstored !== undefined) return unstored.message;
    if (!room.ids.has(id) && !room.replaying) return undefined;
    const recent = room.recent.find((m) => m.id === id);
    if (recent !== undefined) return recent;
    // In the window but no longer in memory: the stored record says what it was, read where
    // the window saw it, in the room's own rows (one read; and a lookup by id looks only in the
    // room's newest buckets, decision 0026)
    const seq = room.ids.get(id);
    if (seq !== undefined) {
      const at = await this.#retry("read a retried message", () =>
        this.#o.store.messageAt(room.id, seq),
      );
      if (at?.id === id) return at;
    }
    const stored = await this.#retry("read a retried message", () =>
      this.#o.store.messageById(room.id, id),
    );
    if (stored !== undefined) return stored;
    room.replaying = false;
    return undefined;
  }

  /**
   * The room's last seq given. Read from the store when this member first sequences the room
   * after an assignment (with its de-duplication window), once the room's own writes are in.
   */
  async #lastSeq(room: Room): Promise<number> {
    if (room.lastSeq !== undefined) return room.lastSeq;
    await room.writer; // our own writes first: the store then holds all we gave
    // one read: the room's last seq comes with its latest messages
    const { lastSeq: stored, messages: window } = await this.#retry(
      "read a room's latest messages",
      () => this.#o.store.latest(room.id, DEDUP_WINDOW),
    );
    for (const m of window) this.#addId(room, m.id, m.seq);
    // the newest of them in memory too: a replay after a takeover, or a client's late resend,
    // finds its original there, not by a store read (which would stall the room while the
    // store is away)
    const bySeq = new Map(room.recent.map((m) => [m.seq, m]));
    for (const m of window.slice(-RECENT_PER_ROOM)) bySeq.set(m.seq, m);
    room.recent = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-RECENT_PER_ROOM);
    const last = Math.max(stored, room.confirmed); // stored: at least the window's newest
    room.lastSeq = last;
    room.replaying = true;
    this.#o.log.debug({ roomId: room.id, last, stored, window: window.length }, "room read");
    return last;
  }

  /**
   * Stores the room's queue in seq order, the messages waiting together in one write (up to
   * MAX_MESSAGES_PER_WRITE), each write tried until it succeeds or the member stops. After a
   * failure, the next try first checks the store still holds what it confirmed.
   */
  #startWriter(room: Room): void {
    if (room.writer !== undefined) return;
    const run = async (): Promise<void> => {
      while (room.queue.length > 0) {
        const chunk = takeChunk(room.queue);
        const end = this.#o.metrics.storeSeconds.startTimer({ op: "persist" });
        try {
          await this.#retry(
            "write to the store",
            async () => {
              if (room.suspect) await this.#checkConfirmed(room);
              await this.#o.store.persistMessages(chunk.map((w) => w.message));
            },
            () => {
              room.suspect = true;
            },
          );
        } catch (err) {
          // stopping: what is not stored stays uncommitted, and the next owner replays it
          for (const w of room.queue.splice(0)) w.stored.reject(err);
          return;
        } finally {
          end();
        }
        room.queue.splice(0, chunk.length);
        for (const w of chunk) {
          const m = w.message;
          room.unstored.delete(m.id);
          this.#o.metrics.unstoredMessages.dec();
          room.confirmed = Math.max(room.confirmed, m.seq);
          room.recent.push(m);
          if (room.recent.length > RECENT_PER_ROOM) room.recent.shift();
          this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "stored" });
          w.stored.resolve();
        }
      }
    };
    room.writer = run().finally(() => {
      room.writer = undefined;
      if (room.queue.length > 0 && !this.#stopping) this.#startWriter(room);
    });
  }

  /**
   * After a failed write: if the store's last seq is below what it confirmed, it lost
   * acknowledged writes. Counts it and writes back what this member remembers, so the seqs it
   * cannot write back stay gaps, never reused.
   */
  async #checkConfirmed(room: Room): Promise<void> {
    const { lastSeq: stored } = await this.#o.store.latest(room.id, 1);
    if (stored < room.confirmed) {
      this.#o.metrics.seqRegressions.inc();
      const lost = room.recent.filter((m) => m.seq > stored);
      for (const m of lost) await this.#o.store.persistMessage(m);
      this.#o.log.error(
        { roomId: room.id, stored, confirmed: room.confirmed, repaired: lost.length },
        "the store lost acknowledged messages: wrote back what this forwarder remembers; " +
          "seqs it could not write back stay gaps (check the commit log and consistency settings)",
      );
    }
    room.suspect = false;
  }

  /** Tries `call` until it resolves, pausing 50 ms doubling to 1 s; rejects once stopping. */
  async #retry<T>(what: string, call: () => Promise<T>, onFailure?: () => void): Promise<T> {
    const { initialMs, maxMs } = this.#o.retry ?? { initialMs: 50, maxMs: 1_000 };
    for (let failures = 0; ; failures++) {
      try {
        return await call();
      } catch (err) {
        onFailure?.();
        if (this.#stopping) throw err;
        this.#o.metrics.forwarderRetries.inc({ call: what });
        if (failures === 0 || failures % 20 === 0) {
          this.#o.log.warn({ err, failures: failures + 1 }, `failed to ${what}; trying again`);
        }
        await this.#pause(Math.min(initialMs * 2 ** failures, maxMs));
      }
    }
  }

  #pause(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(done, ms);
    const wakers = this.#wakers;
    function done(): void {
      clearTimeout(timer);
      wakers.delete(done);
      resolve();
    }
    wakers.add(done);
    return promise;
  }

  /** Resolves on a later turn: what a write settled within it is used, else not waited for. */
  #settled(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  #addId(room: Room, id: string, seq: number): void {
    room.ids.delete(id);
    room.ids.set(id, seq);
    if (room.ids.size > DEDUP_WINDOW) {
      const oldest = room.ids.keys().next().value;
      if (oldest !== undefined && !room.unstored.has(oldest)) room.ids.delete(oldest);
    }
  }

  #room(roomId: string): Room {
    let room = this.#rooms.get(roomId);
    if (room !== undefined) {
      this.#rooms.delete(roomId); // re-inserted last: the map's order is recency
      this.#rooms.set(roomId, room);
      return room;
    }
    room = {
      id: roomId,
      chain: Promise.resolve(),
      queue: [],
      writer: undefined,
      partition: undefined,
      lastSeq: undefined,
      confirmed: 0,
      ids: new Map(),
      unstored: new Map(),
      recent: [],
      suspect: false,
      replaying: true,
    };
    this.#rooms.set(roomId, room);
    if (this.#rooms.size > KNOWN_ROOMS) this.#forgetIdleRoom();
    return room;
  }

  /** Forgets the least recently used room with nothing in flight (its floor goes with it). */
  #forgetIdleRoom(): void {
    for (const [id, room] of this.#rooms) {
      if (room.writer === undefined && room.unstored.size === 0 && room.lastSeq !== undefined) {
        this.#rooms.delete(id);
        return;
      }
    }
  }

  /** Queues a payload; the queue is routed on a later turn, in order, in as few calls as it can. */
  #route(target: Target, payload: DeliveryPayload): void {
    this.#outbox.push({ target, payload: encode(payload) });
    this.#routing ??= this.#drainOutbox();
  }

  /**
   * Routes what the outbox holds, chunk by chunk, looking up each room's and user's gateways
   * once per chunk. A failed chunk is tried again (capped pause) until it goes or the member
   * stops: delivery is at most once, and a message routed late is still in order.
   */
  async #drainOutbox(): Promise<void> {
    await this.#settled(); // let the turn's other routes join
    try {
      while (this.#outbox.length > 0) {
        const chunk = this.#outbox.slice(0, ROUTE_CHUNK);
        try {
          await this.#retry("route to the gateways", () => this.#send(chunk));
        } catch {
          return; // stopping: what is left is not routed (clients resume from the store)
        }
        this.#outbox = this.#outbox.slice(chunk.length);
      }
    } finally {
      this.#routing = undefined;
      if (this.#outbox.length > 0 && !this.#stopping) this.#routing = this.#drainOutbox();
    }
  }

  async #send(all: readonly { target: Target; payload: string }[]): Promise<void> {
    const routed = await this.#routeByRoom(all);
    if (routed === all.length) return;
    const chunk = all.slice(routed);
    /** room → the highest seq of its messages in the chunk (0: none) */
    const rooms = new Map<string, number>();
    const users = new Set<string>();
    for (const { target } of chunk) {
      if (target.roomId !== undefined) {
        rooms.set(target.roomId, Math.max(rooms.get(target.roomId) ?? 0, target.seq ?? 0));
      }
      for (const u of target.userIds ?? []) users.add(u);
    }
    const end = this.#o.metrics.registrySeconds.startTimer({ op: "gateways_for_room" });
    const [roomGateways, userGateways, every] = await Promise.all([
      // a gateway that subscribes to the room after this lookup learns the seq, and reads the
      // messages this route passes it by from the store (decision 0024)
      this.#registry.gatewaysOfEach([...rooms.keys()], () =>
        this.#o.registry.gatewaysForRooms(rooms),
      ),
      lookUp([...users], (u) => this.#registry.gateways(() => this.#o.registry.gatewaysForUser(u))),
      this.#everyGatewayWhileSettling(),
    ]).finally(end);
    const out: Outgoing[] = [];
    let extra = 0;
    for (const { target, payload } of chunk) {
      const addressed = new Set<string>();
      if (target.roomId !== undefined) {
        for (const g of roomGateways.get(target.roomId) ?? []) addressed.add(g);
      }
      for (const u of target.userIds ?? []) {
        for (const g of userGateways.get(u) ?? []) addressed.add(g);
      }
      if (addressed.has(EVERY_GATEWAY)) {
        out.push({ gatewayId: EVERY_GATEWAY, payload });
        this.#o.metrics.registryFallbacks.inc(); // per event, not per lookup
        continue;
      }
      for (const gatewayId of addressed) out.push({ gatewayId, payload });
      for (const gatewayId of every) {
        if (addressed.has(gatewayId)) continue;
        out.push({ gatewayId, payload });
        extra++;
      }
    }
    if (out.length > 0) await this.#o.delivery.sendMany(out);
    if (extra > 0) this.#o.metrics.conservativeRoutes.inc(extra);
    this.#o.metrics.deliveriesRouted.inc(out.length);
  }

  /**
   * A chunk of room payloads only (messages, read positions) goes through the room router,
   * when there is one and nothing asks for the general path: the registry answering, not
   * settling after a loss, and the delivery not failing over. ROUTER_CALL routes per call, so
   * one call does not hold Redis long. Resolves how many of the chunk's payloads it sent, in
   * order; the general path sends the rest (a call that failed but got through may so send a
   * payload twice, which gateways drop by seq).
   */
  async #routeByRoom(chunk: readonly { target: Target; payload: string }[]): Promise<number> {
    const router = this.#o.roomRouter;
    if (router === undefined || !router.usable() || this.#registry.down) return 0;
    const routes: { roomId: string; seq: number; payload: string }[] = [];
    for (const { target, payload } of chunk) {
      if (target.roomId === undefined || target.userIds !== undefined) return 0;
      routes.push({ roomId: target.roomId, seq: target.seq ?? 0, payload });
    }
    if ((await this.#everyGatewayWhileSettling()).length > 0) return 0;
    let done = 0;
    while (done < routes.length) {
      const part = routes.slice(done, done + ROUTER_CALL);
      const end = this.#o.metrics.registrySeconds.startTimer({ op: "gateways_for_room" });
      try {
        this.#o.metrics.deliveriesRouted.inc(await router.routeRooms(part));
      } catch (err) {
        this.#o.log.debug({ err }, "the room router failed: routing the rest the general way");
        return done;
      } finally {
        end();
      }
      done += part.length;
    }
    return done;
  }

  /**
   * Every live gateway while the registry's epoch is young (it lost its data and the gateways
   * are still registering again), else none. Reads the registry at most once per check
   * interval, not per event.
   */
  async #everyGatewayWhileSettling(): Promise<readonly string[]> {
    // while the registry does not answer, events go to every gateway anyway
    if (this.#registry.down) return [];
    const now = (this.#o.now ?? Date.now)();
    if (this.#settling === undefined || now - this.#settling.checkedAt >= REGISTRY_EPOCH_CHECK_MS) {
      const pending = this.#readSettling(now);
      this.#settling = { checkedAt: now, gateways: pending };
      pending.catch(() => {
        if (this.#settling?.gateways === pending) this.#settling = undefined;
      });
    }
    // a registry that stops answering here: the events' own lookups fall back to every gateway
    return this.#settling.gateways.catch(() => []);
  }

  async #readSettling(now: number): Promise<readonly string[]> {
    const epoch = await this.#o.registry.epoch();
    if (now - epoch.since >= REGISTRY_SETTLE_MS) return [];
    return this.#o.registry.liveGateways();
  }
}

async function lookUp(
  keys: readonly string[],
  read: (key: string) => Promise<readonly string[]>,
): Promise<Map<string, readonly string[]>> {
  const found = await Promise.all(keys.map(read));
  return new Map(keys.map((k, i) => [k, found[i] ?? []]));
}

/** The head of the queue that goes in one write. */
function takeChunk(queue: readonly PendingWrite[]): PendingWrite[] {
  const chunk: PendingWrite[] = [];
  let text = 0;
  for (const w of queue) {
    text += w.message.content.text?.length ?? 0;
    if (
      chunk.length > 0 &&
      (chunk.length === MAX_MESSAGES_PER_WRITE || text > MAX_TEXT_PER_WRITE)
    ) {
      break;
    }
    chunk.push(w);
  }
  return chunk;
}

function messagePayload(m: StoredMessage): DeliveryPayload {
  const tp = traceHeaders().traceparent;
  return {
    kind: "message",
    message: fromStored(m),
    ...(tp === undefined ? {} : { traceparent: tp }),
  };
}
