// A small client of the gateway for tests and demos: REST calls and a WebSocket that records
// every frame and lets a test wait for the one it expects.
import WebSocket from "ws";
import { waitFor } from "./wait.ts";

export type Frame = { type: string; [k: string]: unknown };

export interface Session {
  readonly userId: string;
  readonly username: string;
  readonly accessToken: string;
  readonly refreshToken: string;
}

export class Rest {
  readonly base: string;

  /** how long one call may take: 15 s, or more where a test sends a burst on purpose */
  readonly timeoutMs: number;

  constructor(base: string, { timeoutMs = 15_000 }: { timeoutMs?: number } = {}) {
    this.base = base.replace(/\/$/, "");
    this.timeoutMs = timeoutMs;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    // biome-ignore lint/suspicious/noExplicitAny: a test client reads JSON whose shape the test asserts
  ): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
  }

  /** call() that insists on a 2xx status */
  // biome-ignore lint/suspicious/noExplicitAny: a test client reads JSON whose shape the test asserts
  async ok(method: string, path: string, body?: unknown, token?: string): Promise<any> {
    const r = await this.call(method, path, body, token);
    if (r.status < 200 || r.status >= 300) {
      throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    }
    return r.body;
  }

  /**
   * ok() for an idempotent request, sent again after retry_after_ms while the answer is 503
   * UNAVAILABLE, as the protocol tells clients to (a busy machine's backend timed out), at
   * most `attempts` times.
   */
  async okRetrying(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    attempts = 5,
    // biome-ignore lint/suspicious/noExplicitAny: a test client reads JSON whose shape the test asserts
  ): Promise<any> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.call(method, path, body, token);
      const unavailable = r.status === 503 && r.body?.error?.code === "UNAVAILABLE";
      if (!unavailable || attempt === attempts) {
        if (r.status < 200 || r.status >= 300) {
          throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
        }
        return r.body;
      }
      const wait = Number(r.body.error.retry_after_ms) || 1_000;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async register(
    username: string,
    password = "password-123",
    extra: { email?: string } = {},
  ): Promise<Session> {
    const b = await this.ok("POST", "/v1/auth/register", { username, password, ...extra });
    return {
      userId: b.user.id,
      username: b.user.username,
      accessToken: b.tokens.access_token,
      refreshToken: b.tokens.refresh_token,
    };
  }
}

export class ChatSocket {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  closeCode: number | undefined;
  #seq = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
    });
    ws.on("close", (code) => {
      this.closeCode = code;
    });
  }

  static async connect(base: string, token: string): Promise<ChatSocket> {
    const url = `${base.replace(/^http/, "ws").replace(/\/$/, "")}/v1/ws?access_token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const socket = new ChatSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    return socket;
  }

  /** connect, send hello (with resume positions), wait for welcome */
  static async open(
    base: string,
    token: string,
    resume?: Record<string, number>,
  ): Promise<ChatSocket> {
    const s = await ChatSocket.connect(base, token);
    const welcome = await s.request({ type: "hello", ...(resume ? { resume } : {}) });
    if (welcome.type !== "welcome") throw new Error(`hello failed: ${JSON.stringify(welcome)}`);
    return s;
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** sends a frame with a fresh request id and waits for the frame answering it */
  async request(frame: Record<string, unknown>, timeoutMs = 15_000): Promise<Frame> {
    const id = `r${++this.#seq}`;
    this.send({ ...frame, id });
    return this.waitFor((f) => f.id === id, `answer to ${String(frame.type)} ${id}`, timeoutMs);
  }

  /** waits for the first recorded frame matching `pred` */
  waitFor(pred: (f: Frame) => boolean, what = "a frame", timeoutMs = 15_000): Promise<Frame> {
    return waitFor(what, () => this.frames.find(pred), { timeoutMs, intervalMs: 5 });
  }

  /** waits until `count` frames match `pred`, and returns them */
  waitForCount(
    pred: (f: Frame) => boolean,
    count: number,
    what = "frames",
    timeoutMs = 30_000,
  ): Promise<Frame[]> {
    return waitFor(
      `${count} ${what}`,
      () => {
        const found = this.frames.filter(pred);
        return found.length >= count ? found : undefined;
      },
      { timeoutMs, intervalMs: 10 },
    );
  }

  /**
   * Sends chat messages keeping at most `window` unacknowledged (the gateway refuses more than
   * 64 frames in flight per socket); `between(i)` runs before message i is sent.
   */
  async sendMessages(
    roomId: string,
    count: number,
    opts: { prefix?: string; window?: number; between?: (i: number) => Promise<void> } = {},
  ): Promise<void> {
    const prefix = opts.prefix ?? "m";
    const window = opts.window ?? 32;
    const acked = () => this.frames.filter((f) => f.type === "ack" && f.room_id === roomId).length;
    const errors = () => this.frames.filter((f) => f.type === "error");
    const base = acked();
    const baseErrors = errors().length;
    for (let i = 0; i < count; i++) {
      await opts.between?.(i);
      if (i - (acked() - base) >= window) {
        await waitFor(
          "room in the send window",
          () => {
            const refused = errors()[baseErrors];
            if (refused !== undefined)
              throw new Error(`a message was refused: ${JSON.stringify(refused)}`);
            return i - (acked() - base) < window ? true : undefined;
          },
          {
            timeoutMs: 90_000,
            intervalMs: 2,
          },
        );
      }
      this.send({
        type: "message",
        room_id: roomId,
        client_msg_id: `${prefix}${i}`,
        msg_type: "text",
        content: { text: `${prefix}${i}` },
      });
    }
  }

  messages(roomId: string): Frame[] {
    return this.frames.filter((f) => f.type === "message" && f.room_id === roomId);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.ws.close(1000);
    await closed;
  }
}
