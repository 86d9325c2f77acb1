// A chat member that behaves like a well-written client under churn: when its socket closes it
// reconnects (to whatever gateway the URL provider gives) with its resume positions, and it
// resends every unacknowledged message with the same client_msg_id. It records every message
// frame it is shown, raw, so a test can prove nothing was lost and nothing shown twice.
import WebSocket from "ws";
import type { Session } from "./chat-client.ts";
import { waitFor } from "./wait.ts";

type Frame = { type: string; [k: string]: unknown };

export class Member {
  readonly name: string;
  readonly session: Session;
  readonly #url: () => Promise<string>;
  /** the seq of every message frame shown, per room, in arrival order */
  readonly shown = new Map<string, number[]>();
  readonly acks = new Map<string, number>();
  /** the room of every acknowledged client_msg_id */
  readonly ackRooms = new Map<string, string>();
  /** the client_msg_id first shown at each seq, per room: what the member saw, to compare with history */
  readonly shownIds = new Map<string, Map<number, string>>();
  /** a client_msg_id acknowledged twice with different seqs (must stay empty) */
  readonly ackConflicts: string[] = [];
  /** called on every ack (with the room), e.g. to time unavailability */
  onAck: ((roomId: string, seq: number) => void) | undefined;
  /** seqs of this member's own messages per room (a sender is answered with acks, not message frames) */
  readonly #own = new Map<string, number[]>();
  readonly closes: number[] = [];
  readonly #pending = new Map<string, Frame>();
  /** when each pending frame was last sent */
  readonly #sentAt = new Map<string, number>();
  /** error frames received, by code */
  readonly errors = new Map<string, number>();
  #ws: WebSocket | undefined;
  #stopped = false;
  #connecting: Promise<void> | undefined;
  #next = 0;
  /** the gateway Pod this member's current socket was opened to (its URL) */
  url = "";

  constructor(name: string, session: Session, url: () => Promise<string>) {
    this.name = name;
    this.session = session;
    this.#url = url;
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** the highest seq per room below which nothing is missing: what a resume asks from */
  positions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const room of new Set([...this.shown.keys(), ...this.#own.keys()])) {
      const have = new Set([...(this.shown.get(room) ?? []), ...(this.#own.get(room) ?? [])]);
      let n = 0;
      while (have.has(n + 1)) n++;
      out[room] = n;
    }
    return out;
  }

  /** Opens a socket and says hello with the resume positions; nothing to do while connected. */
  async connect(url?: string): Promise<void> {
    if (this.connected) return;
    this.#connecting ??= this.#open(url).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(fixed?: string): Promise<void> {
    const base = fixed ?? (await this.#url());
    const ws = new WebSocket(
      `${base.replace(/^http/, "ws")}/v1/ws?access_token=${encodeURIComponent(this.session.accessToken)}`,
      { perMessageDeflate: false, handshakeTimeout: 10_000 },
    );
    const welcomed = new Promise<void>((resolve, reject) => {
      ws.once("error", reject);
      ws.once("close", (code) => reject(new Error(`closed ${code} before welcome`)));
      ws.on("message", (data) => {
        const f = JSON.parse(data.toString()) as Frame;
        if (f.type === "welcome") resolve();
        this.#onFrame(f);
      });
    });
    ws.once("open", () => {
      ws.send(JSON.stringify({ type: "hello", id: "hello", resume: this.positions() }));
    });
    await welcomed;
    ws.removeAllListeners("error");
    ws.on("error", () => undefined);
    ws.once("close", (code) => {
      this.closes.push(code);
      if (!this.#stopped) void this.#reconnect();
    });
    this.#ws = ws;
    this.url = base;
    for (const [id, frame] of this.#pending) {
      ws.send(JSON.stringify(frame));
      this.#sentAt.set(id, Date.now());
    }
  }

  async #reconnect(): Promise<void> {
    await waitFor(
      `${this.name} reconnected`,
      async () => {
        if (this.#stopped) return true;
        await this.connect();
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    ).catch((err: Error) => console.error(`${this.name}: ${err.message}`));
  }

  #onFrame(f: Frame): void {
    if (f.type === "message" && typeof f.room_id === "string" && typeof f.seq === "number") {
      const list = this.shown.get(f.room_id);
      if (list === undefined) this.shown.set(f.room_id, [f.seq]);
      else list.push(f.seq);
      let ids = this.shownIds.get(f.room_id);
      if (ids === undefined) {
        ids = new Map();
        this.shownIds.set(f.room_id, ids);
      }
      if (!ids.has(f.seq) && typeof f.client_msg_id === "string") ids.set(f.seq, f.client_msg_id);
    } else if (f.type === "error") {
      const code = String(f.code);
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
      // a send refused for now (RATE_LIMITED, UNAVAILABLE: nothing was carried out) is sent
      // again after the time the gateway gave, with the same client_msg_id, as a client does
      const id = typeof f.id === "string" ? f.id : undefined;
      const after = typeof f.retry_after_ms === "number" ? f.retry_after_ms : undefined;
      if (id !== undefined && after !== undefined && this.#pending.has(id)) {
        setTimeout(() => {
          const frame = this.#pending.get(id);
          if (frame === undefined || !this.connected || this.#stopped) return;
          this.#ws?.send(JSON.stringify(frame));
          this.#sentAt.set(id, Date.now());
        }, after).unref();
      }
    } else if (f.type === "ack" && typeof f.client_msg_id === "string") {
      this.#pending.delete(f.client_msg_id);
      this.#sentAt.delete(f.client_msg_id);
      if (typeof f.seq === "number" && typeof f.room_id === "string") {
        const before = this.acks.get(f.client_msg_id);
        if (before !== undefined && before !== f.seq)
          this.ackConflicts.push(`${f.client_msg_id} acked as ${before}, then as ${f.seq}`);
        this.acks.set(f.client_msg_id, f.seq);
        this.ackRooms.set(f.client_msg_id, f.room_id);
        this.onAck?.(f.room_id, f.seq);
        const own = this.#own.get(f.room_id);
        if (own === undefined) this.#own.set(f.room_id, [f.seq]);
        else own.push(f.seq);
      }
    }
  }

  /** Sends a text message; it is resent on every reconnect until acknowledged. */
  send(roomId: string, text: string): string {
    const client_msg_id = `${this.name}-${++this.#next}`;
    const frame = {
      type: "message",
      id: client_msg_id, // an error frame names it: a refused send is sent again
      room_id: roomId,
      client_msg_id,
      msg_type: "text",
      content: { text },
    };
    this.#pending.set(client_msg_id, frame);
    this.#sentAt.set(client_msg_id, Date.now());
    if (this.connected) this.#ws?.send(JSON.stringify(frame));
    return client_msg_id;
  }

  /** Resends (same client_msg_id) every unacknowledged message last sent over `olderThanMs` ago. */
  retry(olderThanMs: number): void {
    if (!this.connected) return;
    const now = Date.now();
    for (const [id, frame] of this.#pending) {
      if (now - (this.#sentAt.get(id) ?? 0) < olderThanMs) continue;
      this.#ws?.send(JSON.stringify(frame));
      this.#sentAt.set(id, now);
    }
  }

  pendingIds(): string[] {
    return [...this.#pending.keys()];
  }

  isPending(clientMsgId: string): boolean {
    return this.#pending.has(clientMsgId);
  }

  get unacked(): number {
    return this.#pending.size;
  }

  async waitAllAcked(timeoutMs = 120_000): Promise<true> {
    try {
      return await waitFor(
        `${this.name}'s messages all acknowledged`,
        () => (this.#pending.size === 0 ? true : undefined),
        { timeoutMs, intervalMs: 50 },
      );
    } catch (err) {
      const errors = JSON.stringify(Object.fromEntries(this.errors));
      throw new Error(
        `${(err as Error).message}: ${this.#pending.size} not acknowledged; error frames ${errors}`,
        { cause: err },
      );
    }
  }

  /** Waits until the member was shown every seq 1..last of the room. */
  waitShown(roomId: string, last: number, timeoutMs = 120_000): Promise<true> {
    return waitFor(
      `${this.name} shown seqs 1..${last} of ${roomId}`,
      () => ((this.positions()[roomId] ?? 0) >= last ? true : undefined),
      { timeoutMs, intervalMs: 50 },
    );
  }

  async close(): Promise<void> {
    this.#stopped = true;
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    ws.close(1000);
    await closed;
  }
}

/** Every seq 1..last exactly once, in increasing order: nothing lost, nothing shown twice. */
export function exactlyOnceInOrder(seqs: readonly number[], last: number): string | undefined {
  if (seqs.length !== last)
    return `shown ${seqs.length} frames for ${last} messages: ${seqs.join(",")}`;
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== i + 1) return `position ${i} holds seq ${seqs[i]}: ${seqs.join(",")}`;
  }
  return undefined;
}
