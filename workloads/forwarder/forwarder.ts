// The forwarder: a member of one consumer group on the messages topic. For each batch it
// persists every event idempotently, then routes it to exactly the gateway pods that hold its
// receivers, and only then lets the bus commit the batch. A crash repeats work, never skips it.
//
// Sequencing: the bus keys events by room, so one partition — consumed by one member at a
// time — holds all of a room's events, in order. The member that owns the partition gives each
// new message the room's next seq (last stored seq + 1), so a room's seqs have no gaps. A
// message whose id is already stored (a sender's retry, or a batch repeated after a crash)
// keeps its stored seq and is routed again; gateways drop what a socket already has.
//
// The store's order is the truth (docs/decisions/0013): a write is acknowledged only once it is
// durable (commit log synced, a quorum of replicas), and this member never gives a seq twice.
// When it first sequences a room after an assignment, or after a write failed and the seq may
// or may not be taken, it reads the room's stored last seq and checks the next seq is free. If
// the store comes back below a seq this member saw stored — it lost writes it acknowledged —
// the member counts it (seq_regressions), writes the lost messages back from a bounded memory
// of its recent writes, and goes on above the highest seq it gave: a gap, never a reuse.
//
// Routing never fails a batch because the registry does not answer (decision 0019): an event
// whose receivers cannot be looked up goes to every gateway (registry-fallback.ts).
import { SpanKind } from "@opentelemetry/api";
import type { Logger } from "#contract/telemetry/log";
import { contextFrom, inSpan, SpanNames, traceHeaders } from "#contract/telemetry/tracing";
import type { Bus, BusConsumer, ConsumedBatch } from "../shared/backends/bus.ts";
import { type Delivery, EVERY_GATEWAY } from "../shared/backends/delivery.ts";
import {
  REGISTRY_EPOCH_CHECK_MS,
  REGISTRY_SETTLE_MS,
  type Registry,
} from "../shared/backends/registry.ts";
import type { Store } from "../shared/backends/store.ts";
import type { StoredMessage } from "../shared/domain.ts";
import {
  type BusEvent,
  type Delivery as DeliveryPayload,
  decodeBusEvent,
  encode,
} from "../shared/events.ts";
import type { Metrics } from "../shared/telemetry/metrics.ts";
import { RegistryFallback } from "./registry-fallback.ts";

export interface ForwarderOptions {
  readonly bus: Bus;
  readonly store: Store;
  readonly registry: Registry;
  readonly delivery: Delivery;
  readonly topic: string;
  readonly groupId: string;
  /** this member's stable name in the group (the Pod name), for static membership */
  readonly instanceId?: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** the clock, in ms, compared with the registry's epoch; default Date.now */
  readonly now?: () => number;
}

type Outgoing = { gatewayId: string; payload: string };
/** one encoded event and the gateways the registry says hold its receivers */
type Routed = { gateways: readonly string[]; payload: string };

/** Recent writes kept per room, to write back what a store that lost them forgot. */
const RECENT_PER_ROOM = 32;
/** Rooms whose recent writes are kept (the least recently written are forgotten first). */
const RECENT_ROOMS = 1_024;
/** Rooms whose last seq is kept in memory (about 100 bytes each). */
const KNOWN_ROOMS = 100_000;
/** Seqs probed above the room's stored last seq before giving up (a corrupt store). */
const MAX_PROBES = 1_000;

export class Forwarder {
  readonly #o: ForwarderOptions;
  /**
   * The highest seq this member saw stored, per room (bounded, least recently written first
   * out): a floor it never gives again, kept across assignments.
   */
  readonly #lastSeq = new Map<string, number>();
  /** rooms whose #lastSeq was checked against the store since the latest assignment */
  readonly #checked = new Set<string>();
  /** the latest messages this member stored, per room, oldest first (bounded) */
  readonly #recent = new Map<string, StoredMessage[]>();
  /** every live gateway while the registry settles after a loss, re-read once per interval */
  #settling: { checkedAt: number; gateways: Promise<readonly string[]> } | undefined;
  #consumer: BusConsumer | undefined;
  /** where receivers are while the registry does not answer: every gateway */
  readonly #routing: RegistryFallback;

  constructor(options: ForwarderOptions) {
    this.#o = options;
    const { registry, log, metrics } = options;
    this.#routing = new RegistryFallback({
      ping: () => registry.ping(),
      ...(options.now !== undefined && { now: options.now }),
      onDown: (err) =>
        log.warn({ err }, "the registry does not answer: sending every event to every gateway"),
      onUp: () => log.info("the registry answers again: routing by it"),
      onBroadcast: () => metrics.registryFallbacks.inc(),
    });
  }

  /**
   * The consumer group check of /readyz: passes while this member is in its group. A member
   * with no partitions (the group has more members than the topic has partitions) is a
   * standby that takes over at the next rebalance: it counts as ready, and says so.
   */
  async groupCheck(): Promise<string> {
    const m = this.#consumer?.membership();
    if (m === undefined) throw new Error("not consuming");
    if (!m.joined) throw new Error(`not in group ${this.#o.groupId} (joining or rebalancing)`);
    return m.partitions.length === 0
      ? `standby in ${this.#o.groupId}: no partitions (more members than partitions)`
      : `in ${this.#o.groupId} with partitions ${m.partitions.join(",")}`;
  }

  async start(): Promise<void> {
    this.#consumer = await this.#o.bus.consume({
      groupId: this.#o.groupId,
      topic: this.#o.topic,
      ...(this.#o.instanceId !== undefined && { instanceId: this.#o.instanceId }),
      onBatch: (batch) => this.handleBatch(batch),
      onAssignment: (partitions) => {
        // another member may have sequenced our partitions' rooms meanwhile: check again
        this.#checked.clear();
        this.#o.log.info({ partitions }, "partitions assigned");
      },
    });
  }

  /** Stops consuming after the batch in flight is stored, routed and committed. */
  async stop(): Promise<void> {
    await this.#consumer?.stop();
    this.#consumer = undefined;
  }

  /** One batch: rooms in parallel, each room's events in order. */
  async handleBatch(batch: ConsumedBatch): Promise<void> {
    const end = this.#o.metrics.batchSeconds.startTimer();
    const byRoom = new Map<
      string,
      { event: BusEvent; headers: Readonly<Record<string, string>> }[]
    >();
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
      const list = byRoom.get(event.roomId);
      if (list === undefined) byRoom.set(event.roomId, [{ event, headers: record.headers }]);
      else list.push({ event, headers: record.headers });
    }
    // every room runs to its end before a failure is reported: the consumer retries a failed
    // batch at once, and a room's handler still in flight beside that retry would sequence the
    // same message twice (seen by the chaos suite when Cassandra came back)
    const settled = await Promise.allSettled(
      [...byRoom.values()].map(async (events) => {
        const out: Routed[] = [];
        for (const { event, headers } of events) out.push(...(await this.#handle(event, headers)));
        return out;
      }),
    );
    const outs: Routed[][] = [];
    for (const r of settled) {
      if (r.status === "rejected") throw r.reason;
      outs.push(r.value);
    }
    const all = await this.#address(outs.flat());
    if (all.length > 0) await this.#o.delivery.sendMany(all);
    this.#o.metrics.deliveriesRouted.inc(all.length);
    end();
  }

  /**
   * Each payload to its gateways and, while the registry settles after a loss, to every other
   * live gateway too (gateways ignore what is not for their sockets); in event order.
   */
  async #address(routed: readonly Routed[]): Promise<Outgoing[]> {
    const every = routed.length > 0 ? await this.#everyGatewayWhileSettling() : [];
    const out: Outgoing[] = [];
    let extra = 0;
    for (const { gateways, payload } of routed) {
      for (const gatewayId of gateways) out.push({ gatewayId, payload });
      if (every.length === 0 || gateways.includes(EVERY_GATEWAY)) continue;
      const addressed = new Set(gateways);
      for (const gatewayId of every) {
        if (addressed.has(gatewayId)) continue;
        out.push({ gatewayId, payload });
        extra++;
      }
    }
    if (extra > 0) this.#o.metrics.conservativeRoutes.inc(extra);
    return out;
  }

  async #handle(event: BusEvent, headers: Readonly<Record<string, string>>): Promise<Routed[]> {
    switch (event.kind) {
      case "message":
        return inSpan(
          SpanNames.forward,
          SpanKind.CONSUMER,
          contextFrom(headers),
          { "switchboard.room_id": event.roomId, "switchboard.message_id": event.id },
          async () => {
            const stored = await this.#persist(event);
            const payload: DeliveryPayload = {
              kind: "message",
              message: {
                roomId: stored.roomId,
                seq: stored.seq,
                id: stored.id,
                senderId: stored.senderId,
                clientMsgId: stored.clientMsgId,
                msgType: stored.msgType,
                content: stored.content,
                createdAt: stored.createdAt.toISOString(),
              },
              ...traceparent(),
            };
            return this.#route(await this.#gatewaysForRoom(event.roomId), payload);
          },
        );
      case "seen": {
        const pos = await this.#o.store.advanceReadPosition({
          roomId: event.roomId,
          userId: event.userId,
          seq: event.seq,
          at: new Date(),
        });
        this.#o.metrics.busConsumed.inc({ kind: "seen", outcome: "stored" });
        return this.#route(await this.#gatewaysForRoom(event.roomId), {
          kind: "seen",
          roomId: event.roomId,
          userId: event.userId,
          seq: pos.seq,
        });
      }
      case "matched":
        return inSpan(
          SpanNames.matchRoute,
          SpanKind.CONSUMER,
          contextFrom(headers),
          { "switchboard.room_id": event.roomId, "switchboard.user_id": event.userId },
          async () => {
            this.#o.metrics.busConsumed.inc({ kind: "matched", outcome: "routed" });
            return this.#route(await this.#gatewaysForUser(event.userId), event);
          },
        );
      case "member": {
        // the room's gateways tell their sockets; the user's gateways (re)subscribe their sockets
        const [room, ...users] = await Promise.all([
          this.#gatewaysForRoom(event.roomId),
          ...[event.userId, ...(event.notify ?? [])].map((u) => this.#gatewaysForUser(u)),
        ]);
        this.#o.metrics.busConsumed.inc({ kind: "member", outcome: "routed" });
        return this.#route([...new Set([...(room ?? []), ...users.flat()])], {
          kind: "member",
          roomId: event.roomId,
          userId: event.userId,
          change: event.change,
          ...(event.change === "joined" ? { fromSeq: await this.#currentSeq(event.roomId) } : {}),
          ...(event.requestId ? { requestId: event.requestId } : {}),
          ...(event.notify ? { notify: event.notify } : {}),
        });
      }
    }
  }

  async #persist(event: Extract<BusEvent, { kind: "message" }>): Promise<StoredMessage> {
    const existing = await this.#o.store.getMessageById(event.id);
    if (existing !== undefined) {
      this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "duplicate" });
      return existing;
    }
    const last = await this.#currentSeq(event.roomId);
    const message: StoredMessage = {
      roomId: event.roomId,
      seq: last + 1,
      id: event.id,
      senderId: event.senderId,
      clientMsgId: event.clientMsgId,
      msgType: event.msgType,
      content: event.content,
      createdAt: new Date(),
    };
    const end = this.#o.metrics.storeSeconds.startTimer({ op: "persist" });
    try {
      await this.#o.store.persistMessage(message);
    } catch (err) {
      // the seq may or may not be taken now: read it from the store next time
      this.#checked.delete(event.roomId);
      throw err;
    } finally {
      end();
    }
    this.#setLastSeq(event.roomId, message.seq);
    this.#remember(message);
    this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "stored" });
    return message;
  }

  async #currentSeq(roomId: string): Promise<number> {
    const known = this.#lastSeq.get(roomId);
    if (known !== undefined && this.#checked.has(roomId)) return known;
    let stored = await this.#storedLastSeq(roomId);
    if (known !== undefined && stored < known) {
      this.#o.metrics.seqRegressions.inc();
      const repaired = await this.#writeBack(roomId, stored, known);
      this.#o.log.error(
        { roomId, stored, known, repaired },
        "the store lost acknowledged messages: writing back what this forwarder remembers; " +
          "seqs it cannot write back stay gaps (check the commit log and consistency settings)",
      );
      stored = await this.#storedLastSeq(roomId);
    }
    const last = Math.max(stored, known ?? 0);
    this.#setLastSeq(roomId, last);
    this.#checked.add(roomId);
    return last;
  }

  #setLastSeq(roomId: string, seq: number): void {
    this.#lastSeq.delete(roomId); // re-inserted last: the map's order is recency
    this.#lastSeq.set(roomId, seq);
    if (this.#lastSeq.size > KNOWN_ROOMS) {
      const oldest = this.#lastSeq.keys().next().value;
      if (oldest !== undefined) {
        this.#lastSeq.delete(oldest);
        this.#checked.delete(oldest);
      }
    }
  }

  /** The room's stored last seq, and past it while the next seq is already taken. */
  async #storedLastSeq(roomId: string): Promise<number> {
    let last = (await this.#o.store.roomStates([roomId])).get(roomId)?.lastSeq ?? 0;
    for (let probes = 0; ; probes++) {
      if (probes === MAX_PROBES) {
        throw new Error(`room ${roomId}: more than ${MAX_PROBES} messages past its stored state`);
      }
      if ((await this.#o.store.messageAt(roomId, last + 1)) === undefined) return last;
      this.#o.log.warn({ roomId, seq: last + 1 }, "room state behind its messages: seq taken");
      last += 1;
    }
  }

  /** Writes back the remembered messages with seqs in (from, to]; resolves how many. */
  async #writeBack(roomId: string, from: number, to: number): Promise<number> {
    const lost = (this.#recent.get(roomId) ?? []).filter((m) => m.seq > from && m.seq <= to);
    for (const m of lost) await this.#o.store.persistMessage(m);
    return lost.length;
  }

  #remember(message: StoredMessage): void {
    const list = this.#recent.get(message.roomId) ?? [];
    this.#recent.delete(message.roomId); // re-inserted last: the map's order is recency
    list.push(message);
    if (list.length > RECENT_PER_ROOM) list.shift();
    this.#recent.set(message.roomId, list);
    if (this.#recent.size > RECENT_ROOMS) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }

  async #gatewaysForRoom(roomId: string): Promise<string[]> {
    const end = this.#o.metrics.registrySeconds.startTimer({ op: "gateways_for_room" });
    try {
      return await this.#routing.gateways(() => this.#o.registry.gatewaysForRoom(roomId));
    } finally {
      end();
    }
  }

  #gatewaysForUser(userId: string): Promise<string[]> {
    return this.#routing.gateways(() => this.#o.registry.gatewaysForUser(userId));
  }

  /**
   * Every live gateway while the registry's epoch is young (it lost its data and the gateways
   * are still registering again), else none. Reads the registry at most once per check
   * interval, not per event.
   */
  async #everyGatewayWhileSettling(): Promise<readonly string[]> {
    // while the registry does not answer, events go to every gateway anyway
    if (this.#routing.down) return [];
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

  #route(gateways: readonly string[], payload: DeliveryPayload): Routed[] {
    const to = gateways.includes(EVERY_GATEWAY) ? [EVERY_GATEWAY] : gateways;
    return [{ gateways: to, payload: encode(payload) }];
  }
}

function traceparent(): { traceparent?: string } {
  const tp = traceHeaders().traceparent;
  return tp === undefined ? {} : { traceparent: tp };
}
