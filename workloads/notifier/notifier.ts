// The notifier: a consumer group of its own on the messages topic, beside the forwarder's. For
// each chat message it finds the members to tell — the other member of a direct room; anywhere
// else, the author of the message a reply answers and each member named with @username — and
// records a notification for each of them who is
// offline (not online on any gateway, as the registry says) and has not muted the room.
//
// What it guarantees (docs/decisions/0022):
// - at most one notification per (user, message): the store records a user's notification of a
//   message once, so a replay after a crash, a rebalance or a sender's retry (same message id)
//   adds nothing;
// - none lost to a crash: the bus commits a batch only after its notifications are stored, and a
//   failed store call is tried again in place (backoff up to retry.maxMs) until it succeeds or
//   the notifier stops (then the batch is not committed and its next owner repeats it);
// - it never holds up a message: it reads the topic the forwarder reads, in a group of its own;
//   the forwarder neither knows nor waits for it.
//
// "Offline" is read when the notifier handles the message: a member who comes online in between
// (the notifier's lag, normally milliseconds) gets none, and while the registry does not answer
// (within PRESENCE_TIMEOUT_MS) everyone addressed counts as offline — a notification too many
// rather than one missing.
import { SpanKind } from "@opentelemetry/api";
import type { Logger } from "#contract/telemetry/log";
import { contextFrom, inSpan, SpanNames } from "#contract/telemetry/tracing";
import {
  type Bus,
  type BusConsumer,
  type ConsumedBatch,
  type ConsumerOptions,
  groupStatus,
  joinGroup,
} from "../shared/backends/bus.ts";
import type { Delivery } from "../shared/backends/delivery.ts";
import {
  excerptOf,
  type Notification,
  type NotificationKind,
  type NotificationStore,
} from "../shared/backends/notifications.ts";
import type { Registry } from "../shared/backends/registry.ts";
import type { Store } from "../shared/backends/store.ts";
import type { RoomKind } from "../shared/domain.ts";
import { type BusEvent, decodeBusEvent } from "../shared/events.ts";
import type { Metrics } from "../shared/telemetry/metrics.ts";
import { announceUnreadChanged } from "../shared/unread.ts";

export interface NotifierOptions {
  readonly bus: Bus;
  readonly store: Pick<
    Store,
    "getRoom" | "listMembers" | "getMember" | "getUserByName" | "messageAt"
  >;
  readonly registry: Pick<Registry, "onlineUsers" | "gatewaysForUser">;
  /**
   * to tell the sockets of a user who came online meanwhile that their unread count changed;
   * none: nobody is told (they read it at their next welcome)
   */
  readonly delivery?: Pick<Delivery, "sendMany">;
  readonly notifications: NotificationStore;
  readonly topic: string;
  readonly groupId: string;
  /** this member's stable name in the group (the Pod name), for static membership */
  readonly instanceId?: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** first and longest pause between tries of a store call that failed */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** longest a reply waits for the message it answers to be stored (default STORE_LAG_MS) */
  readonly storeLagMs?: number;
}

type MessageEvent = Extract<BusEvent, { kind: "message" }>;

/** How long the registry may take to say who is online before everyone counts as offline. */
export const PRESENCE_TIMEOUT_MS = 1_000;
/** Mentions looked up per message (the rest of the @names are ignored). */
export const MAX_MENTIONS = 20;
/**
 * Longest a reply waits for the message it answers to be stored: the forwarder acks a message
 * just before its write (docs/decisions/0024), so a reply sent at once may arrive here first.
 */
export const STORE_LAG_MS = 2_000;
/** Messages of one batch worked on at once. */
const PARALLEL = 32;
/** Rooms whose kind is remembered (a room's kind never changes). */
const KNOWN_ROOMS = 50_000;

/** a user's id (a UUID), unlike a server sender's `system` or `bot:<name>` */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MENTION = /(?:^|[^a-zA-Z0-9_.@-])@([a-zA-Z0-9_.-]{3,32})/g;

/**
 * The usernames a text mentions, in order, each once (at most MAX_MENTIONS). A name followed by
 * a full stop is also tried without it ("thanks @ann." mentions ann or ann.).
 */
export function mentionedNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(MENTION)) {
    const name = m[1] as string;
    names.add(name);
    const trimmed = name.replace(/\.+$/, "");
    if (trimmed.length >= 3) names.add(trimmed);
    if (names.size >= MAX_MENTIONS) break;
  }
  return [...names].slice(0, MAX_MENTIONS);
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #roomKinds = new Map<string, RoomKind>();
  #consumer: BusConsumer | undefined;
  #stopping = false;
  readonly #wakers = new Set<() => void>();

  constructor(options: NotifierOptions) {
    this.#o = options;
  }

  /** Joins the group, waiting (not exiting) until it can or stop() is called (joinGroup). */
  async start(): Promise<void> {
    this.#stopping = false;
    const options: ConsumerOptions = {
      groupId: this.#o.groupId,
      topic: this.#o.topic,
      ...(this.#o.instanceId !== undefined && { instanceId: this.#o.instanceId }),
      onBatch: (batch) => this.handleBatch(batch),
    };
    this.#consumer = await joinGroup(this.#o.bus, options, {
      log: this.#o.log,
      stopping: () => this.#stopping,
      pause: (ms) => this.#sleep(ms),
    });
  }

  /** Lets the batch in progress finish (or give up, uncommitted), then leaves the group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const wake of this.#wakers) wake();
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.stop();
  }

  /** The consumer group check of /readyz (groupStatus). */
  async groupCheck(): Promise<string> {
    return groupStatus(this.#consumer, this.#o.groupId);
  }

  /** Records the notifications of a batch's messages; resolves once they are all stored. */
  async handleBatch(batch: ConsumedBatch): Promise<void> {
    const started = performance.now();
    const messages: { event: MessageEvent; headers: Readonly<Record<string, string>> }[] = [];
    let chats = 0;
    for (const r of batch.records) {
      const e = decodeBusEvent(r.value);
      if (e?.kind !== "message") continue;
      chats++;
      if (e.msgType !== "system") messages.push({ event: e, headers: r.headers });
    }
    const found: Notification[] = [];
    for (let i = 0; i < messages.length; i += PARALLEL) {
      const chunk = messages.slice(i, i + PARALLEL);
      const each = await Promise.all(
        chunk.map(({ event, headers }) =>
          inSpan(
            SpanNames.notify,
            SpanKind.CONSUMER,
            contextFrom(headers),
            { "switchboard.room_id": event.roomId, "switchboard.message_id": event.id },
            async (span) => {
              const ns = await this.#notificationsOf(event);
              span.setAttribute("switchboard.notifications", ns.length);
              return ns;
            },
          ),
        ),
      );
      for (const ns of each) found.push(...ns);
    }
    if (found.length > 0) {
      await this.#retry("record", () => this.#o.notifications.record(found));
      for (const n of found) this.#o.metrics.notifications.inc({ kind: n.kind });
      await this.#announce(found.map((n) => n.userId));
    }
    const { notifierEvents } = this.#o.metrics;
    if (chats > 0) notifierEvents.inc({ kind: "message" }, chats);
    if (batch.records.length > chats)
      notifierEvents.inc({ kind: "other" }, batch.records.length - chats);
    this.#o.metrics.notifierBatchSeconds.observe((performance.now() - started) / 1000);
  }

  /** The notifications one message gives: the addressed members offline and not muting it. */
  async #notificationsOf(m: MessageEvent): Promise<Notification[]> {
    const addressed = await this.#addressed(m);
    addressed.delete(m.senderId);
    if (addressed.size === 0) return [];
    const users = [...addressed.keys()];
    const [online, muted] = await Promise.all([
      this.#online(users),
      this.#retry("mutes", () => this.#o.notifications.mutedBy(m.roomId, users)),
    ]);
    const at = new Date(m.sentAt);
    const excerpt = excerptOf(m.content.text ?? m.content.name);
    return users
      .filter((u) => !online.has(u) && !muted.has(u))
      .map((userId) => ({
        userId,
        messageId: m.id,
        roomId: m.roomId,
        senderId: m.senderId,
        kind: addressed.get(userId) as NotificationKind,
        excerpt,
        at: Number.isNaN(at.getTime()) ? new Date() : at,
      }));
  }

  /**
   * Who the message addresses, and how: every other member of a direct room (`direct`, whatever
   * else the message does); elsewhere the author of the message a reply answers (`reply`) and
   * the members it mentions (`mention`). A reply that also mentions its author is one `reply`:
   * it says more (which of their messages it answers).
   */
  async #addressed(m: MessageEvent): Promise<Map<string, NotificationKind>> {
    const to = new Map<string, NotificationKind>();
    const kind = await this.#roomKind(m.roomId);
    if (kind === undefined) return to;
    if (kind === "direct") {
      const members = await this.#retry("members", () => this.#o.store.listMembers(m.roomId));
      for (const member of members) to.set(member.userId, "direct");
      return to;
    }
    const [mentioned, author] = await Promise.all([this.#mentioned(m), this.#repliedTo(m)]);
    for (const userId of mentioned) to.set(userId, "mention");
    if (author !== undefined) to.set(author, "reply");
    return to;
  }

  /** The members a message names with @username. */
  async #mentioned(m: MessageEvent): Promise<string[]> {
    const text = m.content.text;
    if (text === undefined || !text.includes("@")) return [];
    const { store } = this.#o;
    const found = await Promise.all(
      mentionedNames(text).map(async (name) => {
        const user = await this.#retry("users", () => store.getUserByName(name));
        if (user === undefined) return undefined;
        const member = await this.#retry("members", () => store.getMember(m.roomId, user.id));
        return member === undefined ? undefined : user.id;
      }),
    );
    return found.filter((id) => id !== undefined);
  }

  /**
   * The author of the message a reply answers, while still a member of the room; none for a
   * server sender (`system`, `bot:<name>`: no user), or a seq the store does not have.
   */
  async #repliedTo(m: MessageEvent): Promise<string | undefined> {
    if (m.replyTo === undefined) return undefined;
    const seq = m.replyTo;
    const { store } = this.#o;
    const read = () => this.#retry("messages", () => store.messageAt(m.roomId, seq));
    let target = await read();
    const lag = this.#o.storeLagMs ?? STORE_LAG_MS;
    for (let pause = 5, waited = 0; target === undefined && waited < lag; pause *= 2) {
      await this.#sleep(Math.min(pause, lag - waited));
      waited += pause;
      if (this.#stopping) return undefined;
      target = await read();
    }
    if (target === undefined || !USER_ID.test(target.senderId)) return undefined;
    const member = await this.#retry("members", () => store.getMember(m.roomId, target.senderId));
    return member === undefined ? undefined : target.senderId;
  }

  async #roomKind(roomId: string): Promise<RoomKind | undefined> {
    const known = this.#roomKinds.get(roomId);
    if (known !== undefined) return known;
    const room = await this.#retry("rooms", () => this.#o.store.getRoom(roomId));
    if (room === undefined) return undefined;
    if (this.#roomKinds.size >= KNOWN_ROOMS) {
      const oldest = this.#roomKinds.keys().next().value;
      if (oldest !== undefined) this.#roomKinds.delete(oldest);
    }
    this.#roomKinds.set(roomId, room.kind);
    return room.kind;
  }

  /**
   * Tells the open sockets of those notified that their unread count changed: only who came
   * online since they were counted offline (rare: a socket opened meanwhile). Best effort: a
   * failure is logged, never retried, and never holds up the batch.
   */
  async #announce(users: readonly string[]): Promise<void> {
    const { delivery, registry } = this.#o;
    if (delivery === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const online = await Promise.race([
        registry.onlineUsers([...new Set(users)]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${PRESENCE_TIMEOUT_MS} ms`)),
            PRESENCE_TIMEOUT_MS,
          );
        }),
      ]);
      if (online.size > 0) await announceUnreadChanged({ registry, delivery }, online);
    } catch (err) {
      this.#o.log.warn({ err }, "cannot tell online users their unread count changed");
    } finally {
      clearTimeout(timer);
    }
  }

  /** Who of `users` is online; nobody when the registry does not answer in time. */
  async #online(users: readonly string[]): Promise<Set<string>> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#o.registry.onlineUsers(users),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${PRESENCE_TIMEOUT_MS} ms`)),
            PRESENCE_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      this.#o.metrics.notifierPresenceFallbacks.inc();
      this.#o.log.warn(
        { err },
        "the registry does not say who is online: notifying everyone addressed",
      );
      return new Set();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `fn` until it succeeds, pausing with backoff; rejects once the notifier stops. */
  async #retry<T>(call: string, fn: () => Promise<T>): Promise<T> {
    const { initialMs, maxMs } = this.#o.retry ?? { initialMs: 100, maxMs: 5_000 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.#stopping) throw err;
        const pause = Math.min(initialMs * 2 ** (attempt - 1), maxMs);
        this.#o.metrics.notifierRetries.inc({ call });
        if (attempt === 1 || attempt % 10 === 0) {
          this.#o.log.warn({ err, call, attempt, pause }, "a store call failed; trying again");
        }
        await this.#sleep(pause);
        if (this.#stopping) throw err;
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}
