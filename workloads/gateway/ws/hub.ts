// The gateway's live state: its sockets by user and by room, what it has told the registry,
// and the fan-out of deliveries from the forwarder to local sockets.
import { SpanKind } from "@opentelemetry/api";
import { contextFrom, inSpan, SpanNames } from "#contract/telemetry/tracing";
import { UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import {
  type DeliveredMessage,
  type Delivery as DeliveryPayload,
  decodeDelivery,
  encode,
  fromStored,
} from "../../shared/events.ts";
import type { ServerFrame } from "../../shared/protocol/frames.ts";
import type { Sessions } from "../auth/sessions.ts";
import type { GatewayContext } from "../core/context.ts";
import type { LiveSeqs } from "../core/live-seqs.ts";
import type { Matching } from "../core/matching.ts";
import type { Connection } from "./connection.ts";
import { RoomCursor } from "./cursor.ts";
import { Registration } from "./registration.ts";

const CATCH_UP_PAGE = 100;
/** How long reading a user's unread count may take before their sockets go without it. */
const UNREAD_READ_TIMEOUT_MS = 2_000;

/** `p`, or a rejection once `ms` passed. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const toMessageFrame = (m: DeliveredMessage): ServerFrame => ({
  type: "message",
  room_id: m.roomId,
  seq: m.seq,
  message_id: m.id,
  sender_id: m.senderId,
  client_msg_id: m.clientMsgId,
  msg_type: m.msgType,
  content: m.content,
  created_at: m.createdAt,
  ...(m.replyTo === undefined ? {} : { reply_to: m.replyTo }),
});

/** One message request waiting for its ack: every request gets one, duplicates included. */
export interface PendingAck {
  readonly messageId: string;
  readonly conn: Connection;
  readonly requestId: string | undefined;
  readonly at: number;
}

export class Hub {
  readonly #ctx: GatewayContext;
  /** the highest seq delivered here per room, shared with the message reads */
  readonly #live: LiveSeqs;
  readonly #matching: Matching;
  readonly #sessions: Sessions;
  /** set while the gateway drains: its sockets move to other gateways, nobody left */
  #draining = false;
  readonly #byUser = new Map<string, Set<Connection>>();
  /** users whose unread count is being read: true when another change came meanwhile */
  readonly #unreadReads = new Map<string, boolean>();
  readonly #byRoom = new Map<string, Set<Connection>>();
  /** by message id: the requests (of any of the sender's sockets) waiting for its ack */
  readonly #pendingAcks = new Map<string, PendingAck[]>();
  readonly #sentAt = new Map<string, number>();
  #stopListening: (() => Promise<void>) | undefined;
  #timers: NodeJS.Timeout[] = [];
  readonly #registration: Registration;

  constructor(ctx: GatewayContext, matching: Matching, sessions: Sessions, live: LiveSeqs) {
    this.#ctx = ctx;
    this.#live = live;
    this.#matching = matching;
    this.#registration = new Registration(ctx, {
      rooms: () => [...this.#byRoom.keys()],
      users: () => [...this.#byUser.keys()],
      onRegistryLost: () => this.#catchUpEverything(),
      routed: (seqs) => this.#routedPast(seqs),
    });
    this.#sessions = sessions;
  }

  /** The gateway is shutting down: closing sockets now says nothing about their users leaving. */
  drain(): void {
    this.#draining = true;
  }

  async start(): Promise<void> {
    this.#stopListening = await this.#ctx.delivery.listen(this.#ctx.gatewayId, (p) =>
      this.#onDelivery(p),
    );
    const { heartbeatMs, ackTimeoutMs } = this.#ctx.limits;
    const ackSweepMs = Math.max(100, Math.min(heartbeatMs, Math.floor(ackTimeoutMs / 4)));
    this.#timers.push(setInterval(() => this.#expirePendingAcks(), ackSweepMs).unref());
    await this.#registration.start();
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#registration.stop();
    await this.#stopListening?.();
    this.#stopListening = undefined;
  }

  /**
   * Opens the session: subscribes the socket to every room of the user (in the registry first,
   * so the forwarder routes here), then replays what the client missed where it asked to resume.
   * A registry that does not answer does not refuse the socket (while it is down the forwarders
   * send to every gateway): the registration is marked stale and re-recorded once it answers.
   */
  async open(
    conn: Connection,
    resume: Readonly<Record<string, number>>,
  ): Promise<{ room_id: string; last_seq: number }[]> {
    const roomIds = await this.#ctx.store.roomsOfUser(conn.userId);
    for (const roomId of roomIds) {
      const cursor = new RoomCursor(0);
      cursor.catchingUp = true;
      conn.rooms.set(roomId, cursor);
    }
    const users = this.#byUser.get(conn.userId);
    const firstOfUser = users === undefined;
    if (users === undefined) this.#byUser.set(conn.userId, new Set([conn]));
    else users.add(conn);
    await this.#ctx.registry
      .markOnline(this.#ctx.gatewayId, [conn.userId], this.#ctx.limits.registryTtlMs)
      .catch((err: unknown) => this.#registration.markStale(err));
    await this.#subscribeLocal(conn, roomIds);
    const states = await this.#ctx.store.roomStates(roomIds);
    const rooms: { room_id: string; last_seq: number }[] = [];
    for (const roomId of roomIds) {
      const lastSeq = states.get(roomId)?.lastSeq ?? 0;
      rooms.push({ room_id: roomId, last_seq: lastSeq });
      const cursor = conn.rooms.get(roomId);
      if (cursor === undefined) continue;
      // taken as given: the client may have messages the store does not hold yet (they are
      // acked before their write, docs/decisions/0024); replaying them would show them twice
      cursor.last = resume[roomId] ?? lastSeq;
    }
    if (firstOfUser) this.#announcePresence(conn.userId, roomIds, true);
    return rooms;
  }

  /** After welcome is sent: catch every room up (resume replays), then live frames flow. */
  async catchUpAll(conn: Connection): Promise<void> {
    await Promise.all([...conn.rooms.keys()].map((roomId) => this.#catchUp(conn, roomId)));
  }

  close(conn: Connection): void {
    const users = this.#byUser.get(conn.userId);
    users?.delete(conn);
    const lastOfUser = users !== undefined && users.size === 0;
    if (lastOfUser) this.#byUser.delete(conn.userId);
    const emptied: string[] = [];
    for (const roomId of conn.rooms.keys()) {
      const set = this.#byRoom.get(roomId);
      set?.delete(conn);
      if (set !== undefined && set.size === 0) {
        this.#byRoom.delete(roomId);
        emptied.push(roomId);
      }
    }
    for (const [id, waiting] of this.#pendingAcks) {
      const rest = waiting.filter((p) => p.conn !== conn);
      if (rest.length === 0) this.#pendingAcks.delete(id);
      else if (rest.length < waiting.length) this.#pendingAcks.set(id, rest);
    }
    const tasks: Promise<unknown>[] = [];
    if (emptied.length > 0)
      tasks.push(this.#ctx.registry.unsubscribeRooms(this.#ctx.gatewayId, emptied));
    if (lastOfUser) {
      const offline = this.#ctx.registry.markOffline(this.#ctx.gatewayId, conn.userId);
      tasks.push(
        this.#draining ? offline : offline.then(() => this.#matching.disconnected(conn.userId)),
      );
      this.#announcePresence(conn.userId, [...conn.rooms.keys()], false);
    }
    Promise.all(tasks).catch((err: unknown) =>
      this.#ctx.log.warn({ err }, "registry cleanup failed"),
    );
  }

  /**
   * The sender's socket gets an ack (not a message frame) when its message comes back: one ack
   * per request, so each of several sends of one client_msg_id, from one socket or several, is
   * answered with the same message_id and seq.
   */
  expectAck(conn: Connection, messageId: string, requestId: string | undefined): PendingAck {
    const pending: PendingAck = { messageId, conn, requestId, at: Date.now() };
    const waiting = this.#pendingAcks.get(messageId);
    if (waiting === undefined) this.#pendingAcks.set(messageId, [pending]);
    else waiting.push(pending);
    if (!this.#sentAt.has(messageId)) this.#sentAt.set(messageId, performance.now());
    return pending;
  }

  /** Withdraws a request's ack; false when it was answered already (the message is acked). */
  cancelAck(pending: PendingAck): boolean {
    const waiting = this.#pendingAcks.get(pending.messageId);
    const i = waiting?.indexOf(pending) ?? -1;
    if (waiting === undefined || i < 0) return false;
    waiting.splice(i, 1);
    if (waiting.length === 0) {
      this.#pendingAcks.delete(pending.messageId);
      this.#sentAt.delete(pending.messageId);
    }
    return true;
  }

  /** Subscribes the user's local sockets to a room right away (used before a first send). */
  async subscribeUser(userId: string, roomId: string, fromSeq: number): Promise<void> {
    const conns = [...(this.#byUser.get(userId) ?? [])].filter((c) => !c.rooms.has(roomId));
    if (conns.length === 0) return;
    for (const c of conns) {
      const cursor = new RoomCursor(fromSeq);
      cursor.catchingUp = true;
      c.rooms.set(roomId, cursor);
    }
    await this.#recordRooms([roomId]);
    for (const c of conns) {
      this.#addToRoom(c, roomId);
      await this.#catchUp(c, roomId);
    }
  }

  /** Sends an ephemeral event (typing, presence) straight to the room's gateways. */
  async broadcastEphemeral(roomId: string, payload: DeliveryPayload): Promise<void> {
    const gateways = await this.#ctx.registry.gatewaysForRoom(roomId);
    const data = encode(payload);
    await this.#ctx.delivery.sendMany(gateways.map((gatewayId) => ({ gatewayId, payload: data })));
  }

  localOnline(userIds: readonly string[]): Set<string> {
    return new Set(userIds.filter((u) => this.#byUser.has(u)));
  }

  // ---- internals ----

  async #subscribeLocal(conn: Connection, roomIds: readonly string[]): Promise<void> {
    const fresh = roomIds.filter((r) => !this.#byRoom.has(r));
    if (fresh.length > 0) await this.#recordRooms(fresh);
    for (const roomId of roomIds) this.#addToRoom(conn, roomId);
  }

  /**
   * Records in the registry that this gateway holds these rooms (so the forwarders route here),
   * learning what was routed past it before; a failure marks the registration stale.
   */
  async #recordRooms(roomIds: readonly string[]): Promise<void> {
    await this.#ctx.registry
      .subscribeRooms(this.#ctx.gatewayId, roomIds, this.#ctx.limits.registryTtlMs)
      .then((seqs) => this.#routedPast(seqs))
      .catch((err: unknown) => this.#registration.markStale(err));
  }

  /**
   * Messages up to these seqs may have been routed before this gateway was in the registry,
   * and may not be stored yet (decision 0024): catch-ups and history here wait for them as for
   * those delivered live.
   */
  #routedPast(seqs: ReadonlyMap<string, number>): void {
    for (const [roomId, seq] of seqs) if (seq > 0) this.#live.saw(roomId, seq);
  }

  #addToRoom(conn: Connection, roomId: string): void {
    const set = this.#byRoom.get(roomId);
    if (set === undefined) this.#byRoom.set(roomId, new Set([conn]));
    else set.add(conn);
  }

  #removeFromRoom(conn: Connection, roomId: string): void {
    conn.rooms.delete(roomId);
    const set = this.#byRoom.get(roomId);
    set?.delete(conn);
    if (set !== undefined && set.size === 0) {
      this.#byRoom.delete(roomId);
      this.#ctx.registry
        .unsubscribeRooms(this.#ctx.gatewayId, [roomId])
        .catch((err: unknown) => this.#ctx.log.warn({ err }, "registry unsubscribe failed"));
    }
  }

  /** Reads what the socket lacks from the store, then flushes live messages queued meanwhile. */
  async #catchUp(conn: Connection, roomId: string): Promise<void> {
    const cursor = conn.rooms.get(roomId);
    if (cursor === undefined) return;
    cursor.catchingUp = true;
    try {
      for (let gaps = 0; ; gaps++) {
        // the store lags the live route by a write (docs/decisions/0020): wait a little more
        // each time a live message is still ahead of what it holds
        if (gaps > 0) await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** gaps, 500)));
        if (conn.closed || conn.rooms.get(roomId) !== cursor) return;
        for (;;) {
          const page = await this.#ctx.store.history(roomId, {
            after: cursor.last,
            limit: CATCH_UP_PAGE,
          });
          if (conn.closed || conn.rooms.get(roomId) !== cursor) return;
          for (const m of cursor.accept(page.map(fromStored))) this.#sendMessage(conn, m);
          if (page.length < CATCH_UP_PAGE) break;
        }
        const { send, gap } = cursor.drain();
        for (const m of send) this.#sendMessage(conn, m);
        // read again while a live message is ahead of the store's view: one queued for this
        // socket, or one this gateway delivered before the socket subscribed (acked before
        // its write, docs/decisions/0024), which no live frame will bring to it
        if (!gap && cursor.last >= (this.#live.highest(roomId) ?? 0)) return;
        cursor.catchingUp = true;
      }
    } catch (err) {
      this.#ctx.log.warn(
        { err, roomId },
        "catch-up failed; closing the socket so the client resumes",
      );
      conn.close("SHUTDOWN", "catch-up failed; resume");
    }
  }

  /** `frame` gives the message frame serialized once (UTF-8 bytes) for all of a room's sockets. */
  #sendMessage(conn: Connection, m: DeliveredMessage, frame?: () => Buffer): void {
    if (this.#sendAcks(conn, m)) return;
    conn.sendRaw(frame === undefined ? JSON.stringify(toMessageFrame(m)) : frame());
    this.#ctx.metrics.messagesOut.inc();
  }

  /** Answers each of the socket's requests waiting for `m` with an ack; false if none waits. */
  #sendAcks(conn: Connection, m: DeliveredMessage): boolean {
    const waiting = this.#pendingAcks.get(m.id);
    const mine = waiting?.filter((p) => p.conn === conn) ?? [];
    if (waiting === undefined || mine.length === 0) return false;
    const rest = waiting.filter((p) => p.conn !== conn);
    if (rest.length === 0) this.#pendingAcks.delete(m.id);
    else this.#pendingAcks.set(m.id, rest);
    for (const p of mine) {
      conn.send({
        type: "ack",
        ...(p.requestId === undefined ? {} : { id: p.requestId }),
        room_id: m.roomId,
        client_msg_id: m.clientMsgId,
        message_id: m.id,
        seq: m.seq,
        created_at: m.createdAt,
      });
    }
    return true;
  }

  #onDelivery(raw: string): void {
    const d = decodeDelivery(raw);
    if (d === undefined) {
      this.#ctx.log.error("undecodable delivery dropped");
      return;
    }
    switch (d.kind) {
      case "message":
        this.#deliverMessage(d.message, d.traceparent);
        return;
      case "seen":
        this.#toRoom(d.roomId, { type: "seen", room_id: d.roomId, user_id: d.userId, seq: d.seq });
        return;
      case "typing":
        this.#toRoom(
          d.roomId,
          { type: "typing", room_id: d.roomId, user_id: d.userId, state: d.state },
          d.userId,
        );
        return;
      case "presence":
        this.#toRoom(
          d.roomId,
          d.online
            ? { type: "presence", room_id: d.roomId, online: [d.userId] }
            : { type: "presence", room_id: d.roomId, online: [], offline: [d.userId] },
          d.userId,
        );
        return;
      case "member":
        this.#onMember(d).catch((err: unknown) =>
          this.#ctx.log.warn({ err }, "member change failed"),
        );
        return;
      case "matched": {
        const frame = JSON.stringify({
          type: "matched",
          ticket_id: d.ticketId,
          room_id: d.roomId,
          partner: {
            id: d.partner.id,
            username: d.partner.username,
            display_name: d.partner.displayName,
          },
        } satisfies ServerFrame);
        for (const conn of this.#byUser.get(d.userId) ?? []) conn.sendRaw(frame);
        return;
      }
      case "revoked":
        this.#sessions.revokedElsewhere(d.userId, d.sessionId);
        return;
      case "disconnect":
        this.#sessions.disconnectedElsewhere(d.userId, d.reason);
        return;
      case "unread":
        void this.#sendUnread(d.userId);
        return;
    }
  }

  /**
   * Reads the user's unread count and sends it to their sockets here. Changes that arrive
   * while a read is on its way are covered by one more read after it, so the last frame sent
   * always follows the last change heard of.
   */
  async #sendUnread(userId: string): Promise<void> {
    if (!this.#byUser.has(userId)) return;
    if (this.#unreadReads.has(userId)) {
      this.#unreadReads.set(userId, true);
      return;
    }
    this.#unreadReads.set(userId, false);
    try {
      for (let again = true; again; ) {
        const unread = await withTimeout(
          this.#ctx.notifications.unreadCount(userId),
          UNREAD_READ_TIMEOUT_MS,
        );
        again = this.#unreadReads.get(userId) === true;
        this.#unreadReads.set(userId, false);
        const frame = JSON.stringify({ type: "notifications", unread } satisfies ServerFrame);
        for (const conn of this.#byUser.get(userId) ?? []) conn.sendRaw(frame);
      }
    } catch (err) {
      this.#ctx.log.warn({ err, userId }, "cannot count unread notifications to send them");
    } finally {
      this.#unreadReads.delete(userId);
    }
  }

  #deliverMessage(m: DeliveredMessage, traceparent: string | undefined): void {
    this.#live.saw(m.roomId, m.seq);
    const conns = this.#byRoom.get(m.roomId);
    let data: Buffer | undefined;
    const frame = () => {
      data ??= Buffer.from(JSON.stringify(toMessageFrame(m)));
      return data;
    };
    const deliver = () => {
      if (conns !== undefined) {
        for (const conn of conns) {
          const cursor = conn.rooms.get(m.roomId);
          if (cursor === undefined) continue;
          const verdict = cursor.offer(m);
          if (verdict === "send") this.#sendMessage(conn, m, frame);
          else if (verdict === "gap") void this.#catchUp(conn, m.roomId);
          else if (verdict === "drop") this.#sendAcks(conn, m); // a retry's ack
        }
      }
      const t0 = this.#sentAt.get(m.id);
      if (t0 !== undefined) {
        this.#sentAt.delete(m.id);
        this.#ctx.metrics.deliveryLatency.observe((performance.now() - t0) / 1000);
      }
    };
    if (traceparent === undefined) {
      deliver();
      return;
    }
    void inSpan(
      SpanNames.deliver,
      SpanKind.CONSUMER,
      contextFrom({ traceparent }),
      {
        "switchboard.room_id": m.roomId,
        "switchboard.message_id": m.id,
        "switchboard.sockets": conns?.size ?? 0,
      },
      async () => deliver(),
    );
  }

  async #onMember(d: Extract<DeliveryPayload, { kind: "member" }>): Promise<void> {
    const type = d.change === "joined" ? ("user_joined" as const) : ("user_left" as const);
    if (d.change === "joined") await this.subscribeUser(d.userId, d.roomId, d.fromSeq ?? 0);
    const told = this.#toRoom(d.roomId, { type, room_id: d.roomId, user_id: d.userId }, d.userId);
    for (const u of d.notify ?? []) {
      if (u === d.userId) continue;
      for (const conn of this.#byUser.get(u) ?? []) {
        if (!told.has(conn)) conn.send({ type, room_id: d.roomId, user_id: d.userId });
      }
    }
    // the member's own sockets get the frame with the id of the request that caused it
    const own = {
      type,
      ...(d.requestId === undefined ? {} : { id: d.requestId }),
      room_id: d.roomId,
      user_id: d.userId,
    };
    for (const conn of this.#byUser.get(d.userId) ?? []) {
      if (conn.rooms.has(d.roomId)) conn.send(own);
      if (d.change === "left") this.#removeFromRoom(conn, d.roomId);
    }
  }

  /** Sends the frame to the room's local sockets (but the user's); returns the room's sockets. */
  #toRoom(roomId: string, frame: ServerFrame, exceptUser?: string): ReadonlySet<Connection> {
    const conns = this.#byRoom.get(roomId);
    if (conns === undefined) return new Set();
    const data = JSON.stringify(frame);
    for (const conn of conns) if (conn.userId !== exceptUser) conn.sendRaw(data);
    return conns;
  }

  #announcePresence(userId: string, roomIds: readonly string[], online: boolean): void {
    for (const roomId of roomIds) {
      this.broadcastEphemeral(roomId, { kind: "presence", roomId, userId, online }).catch(
        (err: unknown) => this.#ctx.log.warn({ err }, "presence broadcast failed"),
      );
    }
  }

  /**
   * A request still without its ack after ackTimeoutMs (the forwarder or the store is stalled)
   * is answered UNAVAILABLE, so every request gets an answer; the client resends with the same
   * client_msg_id, which is safe whether or not the message was stored.
   */
  #expirePendingAcks(): void {
    const expired = Date.now() - this.#ctx.limits.ackTimeoutMs;
    for (const [id, waiting] of this.#pendingAcks) {
      const late = waiting.filter((p) => p.at < expired);
      if (late.length === 0) continue;
      const rest = waiting.filter((p) => p.at >= expired);
      if (rest.length > 0) this.#pendingAcks.set(id, rest);
      else {
        this.#pendingAcks.delete(id);
        this.#sentAt.delete(id);
      }
      for (const p of late) {
        this.#ctx.metrics.errors.inc({ code: "UNAVAILABLE" });
        p.conn.send({
          type: "error",
          ...(p.requestId === undefined ? {} : { id: p.requestId }),
          code: "UNAVAILABLE",
          message:
            "no ack in time: the message may or may not be stored; resend it with the same client_msg_id",
          retry_after_ms: UNAVAILABLE_RETRY_AFTER_MS,
        });
      }
    }
  }

  /** Every socket reads what it may have missed in every room (after the registry was lost). */
  #catchUpEverything(): void {
    for (const conns of this.#byUser.values()) {
      for (const conn of conns) {
        for (const [roomId, cursor] of conn.rooms) {
          if (!cursor.catchingUp) void this.#catchUp(conn, roomId);
        }
      }
    }
  }
}
