// A WebSocket session with the gateway that survives the network: it reconnects with backoff
// and jitter, asks for a fresh access token when the last one was refused, resumes every room
// from the last seq it delivered (docs/protocol.md, "Session: hello, welcome and resume"),
// delivers each message once and in order per room, answers requests by their echoed id with a
// timeout, and resends a message until it is acknowledged, always with the same client_msg_id
// (the gateway stores it once). Only the global WebSocket, fetch and timers: browsers and Node 24.
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { ClientError } from "./errors.ts";
import {
  type ClientFrame,
  type ClientMessageFrame,
  CloseCodes,
  type ServerAckFrame,
  type ServerErrorFrame,
  type ServerFrame,
  type ServerMatchedFrame,
  type ServerMatchTicketFrame,
  type ServerMessageFrame,
  type ServerNotificationsFrame,
  type ServerPresenceFrame,
  type ServerSeenFrame,
  type ServerTypingFrame,
  type ServerUserJoinedFrame,
  type ServerUserLeftFrame,
  type ServerWelcomeFrame,
} from "./protocol.ts";

export type ConnectionState =
  | "connecting" // first attempt
  | "open" // welcome received
  | "reconnecting" // waiting to try again, or trying
  | "offline" // told the network is down: waits for it to come back
  | "closed"; // for good: close() was called, or the gateway said not to come back

export interface StateChange {
  readonly state: ConnectionState;
  /** reconnect attempts since the last good connection */
  readonly attempt: number;
  /** when reconnecting: the wait before the next attempt, in ms */
  readonly delayMs?: number;
  /** the close code that ended the last socket */
  readonly closeCode?: number;
  /** when closed for good: why */
  readonly reason?: string;
}

/** What a send resolves to: the message's place in its room (from its ack, or its replay). */
export type Sent = Pick<
  ServerAckFrame,
  "room_id" | "client_msg_id" | "message_id" | "seq" | "created_at"
>;

export interface ChatEvents {
  state: StateChange;
  welcome: ServerWelcomeFrame;
  /** each message once, in seq order per room (your own sends resolve their promise instead) */
  message: ServerMessageFrame;
  typing: ServerTypingFrame;
  seen: ServerSeenFrame;
  presence: ServerPresenceFrame;
  user_joined: ServerUserJoinedFrame;
  user_left: ServerUserLeftFrame;
  /** once per ticket */
  matched: ServerMatchedFrame;
  /** the unread notification count changed while connected (marked read elsewhere, or new) */
  notifications: ServerNotificationsFrame;
  /** an error frame no request of this client waits for */
  error: ServerErrorFrame;
}

export interface ChatClientOptions {
  /** the gateway's base address: http(s)://host[:port] or ws(s)://host[:port] */
  readonly url: string;
  /** a valid access token; `refresh`: the last one was refused or is old, get a new one */
  readonly accessToken: (o: { refresh: boolean }) => Promise<string>;
  /** room id → last seq already had (e.g. from storage): resumed from there */
  readonly cursors?: Readonly<Record<string, number>>;
  /** how long a request waits for its answer (default 10 000 ms) */
  readonly requestTimeoutMs?: number;
  /** how often a send is tried before its promise rejects (default 5) */
  readonly sendAttempts?: number;
  /** an application ping this often proves the socket alive (default 15 000 ms; 0: never) */
  readonly pingIntervalMs?: number;
  readonly backoff?: BackoffOptions;
  /** a WebSocket class (default: the global one) */
  readonly WebSocket?: typeof WebSocket;
}

interface PendingRequest {
  readonly frame: ClientFrame & { id: string };
  readonly resolve: (f: ServerFrame) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  sent: boolean;
}

interface OutboxEntry {
  readonly frame: Omit<ClientMessageFrame, "id">;
  readonly resolve: (s: Sent) => void;
  readonly reject: (e: Error) => void;
  attempts: number;
  /** the id of the attempt on the wire, if any */
  requestId: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** message ids remembered for de-duplication (beyond the per-room seq check) */
const RECENT_IDS = 5_000;
/** client-side close code: the socket stopped answering */
const CLOSE_UNRESPONSIVE = 4000;

const wsUrl = (base: string) =>
  `${base.replace(/\/+$/, "").replace(/^http/, "ws")}/v1/ws?access_token=`;

export class ChatClient {
  readonly #o: Required<
    Pick<ChatClientOptions, "requestTimeoutMs" | "sendAttempts" | "pingIntervalMs">
  > &
    ChatClientOptions;
  readonly #WebSocket: typeof WebSocket;
  readonly #backoff: Backoff;
  readonly #listeners = new Map<keyof ChatEvents, Set<(e: never) => void>>();
  /** room id → highest seq delivered; rooms joined without a known seq hold 0 */
  readonly #cursors = new Map<string, number>();
  readonly #recentIds = new Set<string>();
  readonly #matchedTickets = new Set<string>();
  readonly #requests = new Map<string, PendingRequest>();
  readonly #outbox = new Map<string, OutboxEntry>();
  /** seen positions not yet sent (the socket was down) */
  readonly #unsentSeen = new Map<string, number>();
  #ws: WebSocket | undefined;
  #state: ConnectionState = "connecting";
  #userId: string | undefined;
  #welcome: ServerWelcomeFrame | undefined;
  /** waiting for an access token before opening a socket */
  #opening = false;
  #nextId = 0;
  #openedAt = 0;
  #refreshToken = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #welcomeWaiters: { resolve: (w: ServerWelcomeFrame) => void; reject: (e: Error) => void }[] = [];

  constructor(o: ChatClientOptions) {
    this.#o = { requestTimeoutMs: 10_000, sendAttempts: 5, pingIntervalMs: 15_000, ...o };
    const WS = o.WebSocket ?? globalThis.WebSocket;
    if (WS === undefined) throw new Error("no WebSocket: pass one in ChatClientOptions.WebSocket");
    this.#WebSocket = WS;
    this.#backoff = new Backoff(o.backoff);
    for (const [room, seq] of Object.entries(o.cursors ?? {})) this.#cursors.set(room, seq);
  }

  get state(): ConnectionState {
    return this.#state;
  }
  /** the user this socket speaks for, once welcomed */
  get userId(): string | undefined {
    return this.#userId;
  }
  /** room id → the highest seq delivered: store it to resume after a page reload */
  cursors(): Record<string, number> {
    return Object.fromEntries(this.#cursors);
  }

  on<K extends keyof ChatEvents>(type: K, fn: (e: ChatEvents[K]) => void): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    this.#listeners.set(type, set);
    set.add(fn as (e: never) => void);
    return () => set.delete(fn as (e: never) => void);
  }

  /** Opens the session; resolves with the first welcome (rejects if closed for good first). */
  connect(): Promise<ServerWelcomeFrame> {
    if (this.#state === "open" && this.#welcome !== undefined) {
      return Promise.resolve(this.#welcome);
    }
    const welcomed = this.#nextWelcome();
    if (this.#idle()) void this.#open();
    return welcomed;
  }

  /** Closes for good: pending requests and sends reject with CLOSED. */
  close(): void {
    this.#finish("closed by the client", CloseCodes.NORMAL.code);
  }

  /** The network went away (offline: drop the socket, wait) or came back (reconnect now). */
  setOnline(online: boolean): void {
    if (this.#state === "closed") return;
    if (!online) {
      this.#dropSocket(CLOSE_UNRESPONSIVE);
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#setState({ state: "offline", attempt: this.#backoff.attempt });
    } else if (this.#state !== "open" && this.#ws === undefined && !this.#opening) {
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      void this.#open();
    }
  }

  /** no socket, no attempt under way and none scheduled */
  #idle(): boolean {
    return this.#ws === undefined && !this.#opening && this.#reconnectTimer === undefined;
  }

  /**
   * Sends a message and resolves once it is durable (its ack, or its replay after a
   * reconnect). Retried on timeouts, retriable errors and reconnects with the same
   * client_msg_id, so it is stored once; pass `clientMsgId` to retry a send that failed, and
   * `replyTo` (the seq of an earlier message of the room) to answer that message.
   */
  send(
    to: { room_id: string } | { to_user_id: string },
    content: ClientMessageFrame["content"],
    o: {
      clientMsgId?: string;
      msgType?: ClientMessageFrame["msg_type"];
      replyTo?: number;
    } = {},
  ): { clientMsgId: string; sent: Promise<Sent> } {
    const clientMsgId = o.clientMsgId ?? crypto.randomUUID();
    const existing = this.#outbox.get(clientMsgId);
    if (existing !== undefined) {
      return { clientMsgId, sent: new Promise((res, rej) => this.#chain(existing, res, rej)) };
    }
    const sent = new Promise<Sent>((resolve, reject) => {
      if (this.#state === "closed") {
        reject(new ClientError("CLOSED", "the client is closed"));
        return;
      }
      const frame = {
        type: "message" as const,
        ...to,
        client_msg_id: clientMsgId,
        msg_type: o.msgType ?? "text",
        content,
        ...(o.replyTo === undefined ? {} : { reply_to: o.replyTo }),
      };
      const entry: OutboxEntry = {
        frame,
        resolve,
        reject,
        attempts: 0,
        requestId: undefined,
        timer: undefined,
      };
      this.#outbox.set(clientMsgId, entry);
      if (this.#state === "open") this.#transmit(entry);
    });
    return { clientMsgId, sent };
  }

  /** client_msg_ids of the sends still waiting for their ack */
  unacknowledged(): string[] {
    return [...this.#outbox.keys()];
  }

  join(roomId: string): Promise<ServerUserJoinedFrame> {
    return this.request({ type: "join", room_id: roomId }) as Promise<ServerUserJoinedFrame>;
  }
  leave(roomId: string): Promise<ServerUserLeftFrame> {
    return this.request({ type: "leave", room_id: roomId }) as Promise<ServerUserLeftFrame>;
  }
  presence(roomId: string): Promise<ServerPresenceFrame> {
    return this.request({ type: "presence", room_id: roomId }) as Promise<ServerPresenceFrame>;
  }
  ping(): Promise<ServerFrame> {
    return this.request({ type: "ping" });
  }
  match(o: { requestId?: string; tags?: string[]; language?: string } = {}) {
    const frame = {
      type: "match" as const,
      request_id: o.requestId ?? crypto.randomUUID(),
      ...(o.tags === undefined ? {} : { tags: o.tags }),
      ...(o.language === undefined ? {} : { language: o.language }),
    };
    return this.request(frame) as Promise<ServerMatchTicketFrame>;
  }
  matchCancel(ticketId?: string) {
    return this.request({
      type: "match_cancel",
      ...(ticketId === undefined ? {} : { ticket_id: ticketId }),
    }) as Promise<ServerMatchTicketFrame>;
  }

  /** Typing indicators are ephemeral: dropped while the socket is down. */
  typing(roomId: string, state: "start" | "stop"): void {
    this.#write({ type: "typing", room_id: roomId, state });
  }

  /** Marks a room read up to seq; kept and sent after a reconnect if the socket is down. */
  seen(roomId: string, seq: number): void {
    if (this.#state === "open" && this.#write({ type: "seen", room_id: roomId, seq })) return;
    this.#unsentSeen.set(roomId, Math.max(seq, this.#unsentSeen.get(roomId) ?? 0));
  }

  /**
   * Sends a frame with a fresh id and resolves with the frame that answers it (an error frame
   * rejects with its code). Sent once the socket is open; resent after a reconnect; rejects
   * with TIMEOUT after requestTimeoutMs.
   */
  request(frame: ClientFrame): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") {
        reject(new ClientError("CLOSED", "the client is closed"));
        return;
      }
      const id = this.#newId();
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(
          new ClientError("TIMEOUT", `${frame.type}: no answer in ${this.#o.requestTimeoutMs} ms`),
        );
      }, this.#o.requestTimeoutMs);
      const pending: PendingRequest = {
        frame: { ...frame, id },
        resolve,
        reject,
        timer,
        sent: false,
      };
      this.#requests.set(id, pending);
      if (this.#state === "open") pending.sent = this.#write(pending.frame);
    });
  }

  // ---- the socket ----

  async #open(): Promise<void> {
    this.#setState({
      state: this.#userId === undefined ? "connecting" : "reconnecting",
      attempt: this.#backoff.attempt,
    });
    let token: string;
    this.#opening = true;
    try {
      token = await this.#o.accessToken({ refresh: this.#refreshToken });
    } catch (err) {
      this.#opening = false;
      const e = err as ClientError;
      if (e instanceof ClientError && !e.retriable) {
        this.#finish(`cannot get an access token: ${e.message}`, undefined);
      } else {
        this.#scheduleReconnect(undefined);
      }
      return;
    }
    this.#opening = false;
    if (this.#state === "closed" || this.#state === "offline") return;
    const ws = new this.#WebSocket(wsUrl(this.#o.url) + encodeURIComponent(token));
    this.#ws = ws;
    let welcomed = false;
    ws.onopen = () => {
      const resume = Object.fromEntries(this.#cursors);
      this.#rawSend(ws, { type: "hello", ...(this.#cursors.size > 0 ? { resume } : {}) });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      if (frame.type === "welcome") {
        welcomed = true;
        this.#onWelcome(frame);
      } else {
        this.#onFrame(frame);
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.#ws !== ws) return; // dropped already
      this.#ws = undefined;
      this.#onSocketClosed(ev.code, welcomed);
    };
    ws.onerror = () => {}; // a close event follows
  }

  #onWelcome(w: ServerWelcomeFrame): void {
    this.#welcome = w;
    this.#userId = w.user_id;
    this.#refreshToken = false;
    this.#openedAt = Date.now();
    for (const r of w.rooms)
      if (!this.#cursors.has(r.room_id)) this.#cursors.set(r.room_id, r.last_seq);
    this.#setState({ state: "open", attempt: 0 });
    this.#emit("welcome", w);
    for (const waiter of this.#welcomeWaiters.splice(0)) waiter.resolve(w);
    // what waited for the socket: seen positions, requests, then unacknowledged sends in order
    for (const [room, seq] of this.#unsentSeen) this.#write({ type: "seen", room_id: room, seq });
    this.#unsentSeen.clear();
    for (const r of this.#requests.values()) r.sent = this.#write(r.frame);
    for (const entry of this.#outbox.values()) this.#transmit(entry);
    if (this.#o.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#checkAlive(), this.#o.pingIntervalMs);
    }
  }

  #onSocketClosed(code: number, welcomed: boolean): void {
    clearInterval(this.#pingTimer);
    for (const entry of this.#outbox.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.requestId = undefined;
    }
    if (this.#state === "closed" || this.#state === "offline") return;
    const known = Object.values(CloseCodes).find((c) => c.code === code);
    if (known !== undefined && !known.reconnect) {
      this.#finish(`closed by the gateway with ${code}`, code);
      return;
    }
    // refused at the upgrade (perhaps 401: a browser cannot tell) or told the token expired
    if (!welcomed || code === CloseCodes.AUTH_EXPIRED.code) this.#refreshToken = true;
    if (welcomed) this.#backoff.closedAfter(Date.now() - this.#openedAt);
    this.#scheduleReconnect(code);
  }

  #scheduleReconnect(closeCode: number | undefined): void {
    const delayMs = this.#backoff.next();
    this.#setState({
      state: "reconnecting",
      attempt: this.#backoff.attempt,
      delayMs,
      ...(closeCode === undefined ? {} : { closeCode }),
    });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** A ping that goes unanswered means a dead connection: drop it and reconnect. */
  #checkAlive(): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    this.ping().catch(() => {
      if (this.#ws !== ws) return;
      this.#dropSocket(CLOSE_UNRESPONSIVE);
      this.#onSocketClosed(CLOSE_UNRESPONSIVE, true);
    });
  }

  /** Forgets the current socket at once (its close may take a TCP timeout to arrive). */
  #dropSocket(code: number): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    this.#ws = undefined;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code);
    } catch {
      // closing a socket that never opened may throw in some implementations
    }
  }

  #finish(reason: string, closeCode: number | undefined): void {
    if (this.#state === "closed") return;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#pingTimer);
    this.#setState({
      state: "closed",
      attempt: this.#backoff.attempt,
      reason,
      ...(closeCode === undefined ? {} : { closeCode }),
    });
    this.#dropSocket(CloseCodes.NORMAL.code);
    const err = new ClientError(
      closeCode === CloseCodes.NORMAL.code ? "CLOSED" : "DISCONNECTED",
      reason,
    );
    for (const r of this.#requests.values()) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.#requests.clear();
    for (const e of this.#outbox.values()) {
      clearTimeout(e.timer);
      e.reject(err);
    }
    this.#outbox.clear();
    for (const w of this.#welcomeWaiters.splice(0)) w.reject(err);
  }

  // ---- frames in ----

  #onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "message":
        this.#onMessage(f);
        break;
      case "ack":
        this.#onAck(f);
        break;
      case "error":
        this.#onError(f);
        break;
      case "welcome":
        break; // a second welcome on one socket does not happen
      case "matched":
        if (this.#matchedTickets.has(f.ticket_id)) break;
        this.#matchedTickets.add(f.ticket_id);
        if (!this.#cursors.has(f.room_id)) this.#cursors.set(f.room_id, 0);
        this.#answer(f);
        break;
      case "user_joined":
        if (f.user_id === this.#userId && !this.#cursors.has(f.room_id)) {
          this.#cursors.set(f.room_id, 0);
        }
        this.#answer(f);
        break;
      case "user_left":
        if (f.user_id === this.#userId) this.#cursors.delete(f.room_id);
        this.#answer(f);
        break;
      default:
        this.#answer(f);
    }
  }

  /** Resolves the request the frame answers (by its echoed id), then tells the listeners. */
  #answer(
    f: Exclude<
      ServerFrame,
      ServerMessageFrame | ServerAckFrame | ServerErrorFrame | ServerWelcomeFrame
    >,
  ): void {
    const id = "id" in f ? f.id : undefined;
    const pending = id === undefined ? undefined : this.#requests.get(id);
    if (pending !== undefined && id !== undefined) {
      this.#requests.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(f);
    }
    if (f.type === "pong" || f.type === "match_ticket") return;
    this.#emit(f.type, f as never);
  }

  #onMessage(m: ServerMessageFrame): void {
    const cursor = this.#cursors.get(m.room_id) ?? 0;
    const duplicate = m.seq <= cursor || this.#recentIds.has(m.message_id);
    if (m.seq > cursor) this.#cursors.set(m.room_id, m.seq);
    if (duplicate) return;
    this.#remember(m.message_id);
    // my own message replayed after a reconnect: the send it answers is done
    const mine = m.sender_id === this.#userId ? this.#outbox.get(m.client_msg_id) : undefined;
    if (mine !== undefined) this.#settle(m.client_msg_id, mine, m);
    this.#emit("message", m);
  }

  #onAck(a: ServerAckFrame): void {
    if (a.seq > (this.#cursors.get(a.room_id) ?? 0)) this.#cursors.set(a.room_id, a.seq);
    this.#remember(a.message_id);
    const entry = this.#outbox.get(a.client_msg_id);
    if (entry !== undefined) this.#settle(a.client_msg_id, entry, a);
  }

  #onError(e: ServerErrorFrame): void {
    const id = e.id;
    if (id !== undefined) {
      const pending = this.#requests.get(id);
      if (pending !== undefined) {
        this.#requests.delete(id);
        clearTimeout(pending.timer);
        pending.reject(new ClientError(e.code, e.message, { retryAfterMs: e.retry_after_ms }));
        return;
      }
      for (const [clientMsgId, entry] of this.#outbox) {
        if (entry.requestId !== id) continue;
        const err = new ClientError(e.code, e.message, { retryAfterMs: e.retry_after_ms });
        this.#retryOrFail(clientMsgId, entry, err, e.retry_after_ms);
        return;
      }
    }
    this.#emit("error", e);
  }

  // ---- sends ----

  #transmit(entry: OutboxEntry): void {
    clearTimeout(entry.timer);
    entry.attempts++;
    const id = this.#newId();
    entry.requestId = id;
    if (!this.#write({ ...entry.frame, id })) {
      entry.requestId = undefined; // sent again on the next welcome
      return;
    }
    entry.timer = setTimeout(() => {
      const err = new ClientError("TIMEOUT", `no ack in ${this.#o.requestTimeoutMs} ms`);
      this.#retryOrFail(entry.frame.client_msg_id, entry, err, 0);
    }, this.#o.requestTimeoutMs);
  }

  #retryOrFail(clientMsgId: string, entry: OutboxEntry, err: ClientError, afterMs = 0): void {
    clearTimeout(entry.timer);
    entry.requestId = undefined;
    if (!err.retriable || entry.attempts >= this.#o.sendAttempts) {
      this.#outbox.delete(clientMsgId);
      entry.reject(err);
      return;
    }
    entry.timer = setTimeout(() => {
      if (this.#state === "open") this.#transmit(entry);
    }, afterMs);
  }

  #settle(clientMsgId: string, entry: OutboxEntry, f: Sent): void {
    clearTimeout(entry.timer);
    this.#outbox.delete(clientMsgId);
    entry.resolve({
      room_id: f.room_id,
      client_msg_id: f.client_msg_id,
      message_id: f.message_id,
      seq: f.seq,
      created_at: f.created_at,
    });
  }

  #chain(entry: OutboxEntry, resolve: (s: Sent) => void, reject: (e: Error) => void): void {
    const { resolve: r0, reject: j0 } = entry;
    Object.assign(entry, {
      resolve: (s: Sent) => {
        r0(s);
        resolve(s);
      },
      reject: (e: Error) => {
        j0(e);
        reject(e);
      },
    });
  }

  // ---- plumbing ----

  #write(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== ws.OPEN || this.#state !== "open") return false;
    return this.#rawSend(ws, frame);
  }

  #rawSend(ws: WebSocket, frame: ClientFrame): boolean {
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  #newId(): string {
    this.#nextId = (this.#nextId + 1) % Number.MAX_SAFE_INTEGER;
    return `c${this.#nextId}`;
  }

  #remember(messageId: string): void {
    this.#recentIds.add(messageId);
    if (this.#recentIds.size > RECENT_IDS) {
      const oldest = this.#recentIds.values().next().value;
      if (oldest !== undefined) this.#recentIds.delete(oldest);
    }
  }

  #nextWelcome(): Promise<ServerWelcomeFrame> {
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") reject(new ClientError("CLOSED", "the client is closed"));
      else this.#welcomeWaiters.push({ resolve, reject });
    });
  }

  #setState(s: StateChange): void {
    this.#state = s.state;
    this.#emit("state", s);
  }

  #emit<K extends keyof ChatEvents>(type: K, e: ChatEvents[K]): void {
    for (const fn of this.#listeners.get(type) ?? []) {
      try {
        (fn as (e: ChatEvents[K]) => void)(e);
      } catch (err) {
        console.error(`@switchboard/client: a ${type} listener threw`, err);
      }
    }
  }
}
