// The forwarder: a member of one consumer group on the messages topic. For each batch it
// persists every event idempotently, then routes it to exactly the gateway pods that hold its
// receivers, and only then lets the bus commit the batch. A crash repeats work, never skips it.
//
// Sequencing: the bus keys events by room, so one partition — consumed by one member at a
// time — holds all of a room's events, in order. The member that owns the partition gives each
// new message the room's next seq (last stored seq + 1), so a room's seqs have no gaps. A
// message whose id is already stored (a sender's retry, or a batch repeated after a crash)
// keeps its stored seq and is routed again; gateways drop what a socket already has.
import { SpanKind } from "@opentelemetry/api";
import type { Bus, BusConsumer, ConsumedBatch } from "../shared/backends/bus.ts";
import type { Delivery } from "../shared/backends/delivery.ts";
import type { Registry } from "../shared/backends/registry.ts";
import type { Store } from "../shared/backends/store.ts";
import type { StoredMessage } from "../shared/domain.ts";
import {
  type BusEvent,
  type Delivery as DeliveryPayload,
  decodeBusEvent,
  encode,
} from "../shared/events.ts";
import type { Logger } from "../shared/telemetry/log.ts";
import type { Metrics } from "../shared/telemetry/metrics.ts";
import { contextFrom, inSpan, SpanNames, traceHeaders } from "../shared/telemetry/tracing.ts";

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
}

type Outgoing = { gatewayId: string; payload: string };

export class Forwarder {
  readonly #o: ForwarderOptions;
  /** last seq given per room, valid while this member owns the room's partition */
  readonly #lastSeq = new Map<string, number>();
  #consumer: BusConsumer | undefined;
  #ready = false;

  constructor(options: ForwarderOptions) {
    this.#o = options;
  }

  get ready(): boolean {
    return this.#ready;
  }

  async start(): Promise<void> {
    this.#consumer = await this.#o.bus.consume({
      groupId: this.#o.groupId,
      topic: this.#o.topic,
      ...(this.#o.instanceId !== undefined && { instanceId: this.#o.instanceId }),
      onBatch: (batch) => this.handleBatch(batch),
      onAssignment: (partitions) => {
        // another member may have sequenced our new partitions' rooms: forget what we knew
        this.#lastSeq.clear();
        this.#ready = true;
        this.#o.log.info({ partitions }, "partitions assigned");
      },
    });
  }

  /** Stops consuming after the batch in flight is stored, routed and committed. */
  async stop(): Promise<void> {
    this.#ready = false;
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
    const outs = await Promise.all(
      [...byRoom.values()].map(async (events) => {
        const out: Outgoing[] = [];
        for (const { event, headers } of events) out.push(...(await this.#handle(event, headers)));
        return out;
      }),
    );
    const all = outs.flat();
    if (all.length > 0) await this.#o.delivery.sendMany(all);
    this.#o.metrics.deliveriesRouted.inc(all.length);
    end();
  }

  async #handle(event: BusEvent, headers: Readonly<Record<string, string>>): Promise<Outgoing[]> {
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
            return this.#route(await this.#o.registry.gatewaysForUser(event.userId), event);
          },
        );
      case "member": {
        // the room's gateways tell their sockets; the user's gateways (re)subscribe their sockets
        const [room, ...users] = await Promise.all([
          this.#gatewaysForRoom(event.roomId),
          ...[event.userId, ...(event.notify ?? [])].map((u) =>
            this.#o.registry.gatewaysForUser(u),
          ),
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
      // the seq may or may not be taken now: re-read it next time
      this.#lastSeq.delete(event.roomId);
      throw err;
    } finally {
      end();
    }
    this.#lastSeq.set(event.roomId, message.seq);
    this.#o.metrics.busConsumed.inc({ kind: "message", outcome: "stored" });
    return message;
  }

  async #currentSeq(roomId: string): Promise<number> {
    let last = this.#lastSeq.get(roomId);
    if (last === undefined) {
      last = (await this.#o.store.roomStates([roomId])).get(roomId)?.lastSeq ?? 0;
      this.#lastSeq.set(roomId, last);
    }
    return last;
  }

  async #gatewaysForRoom(roomId: string): Promise<string[]> {
    const end = this.#o.metrics.registrySeconds.startTimer({ op: "gateways_for_room" });
    try {
      return await this.#o.registry.gatewaysForRoom(roomId);
    } finally {
      end();
    }
  }

  #route(gateways: readonly string[], payload: DeliveryPayload): Outgoing[] {
    const encoded = encode(payload);
    return gateways.map((gatewayId) => ({ gatewayId, payload: encoded }));
  }
}

function traceparent(): { traceparent?: string } {
  const tp = traceHeaders().traceparent;
  return tp === undefined ? {} : { traceparent: tp };
}
