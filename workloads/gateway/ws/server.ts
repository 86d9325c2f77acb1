// The WebSocket endpoint: authenticates the upgrade, then reads frames one at a time per socket
// (so a client's messages keep their order), rate-limits them, and answers every failure with
// an error frame. Nothing a client sends can crash the process or disturb other sockets: each
// socket yields to the others after every frame it delivers (one frame per socket per turn of
// the event loop), stops being read while its queue is full, pays a token for every frame
// (invalid ones too), and is closed once it spends its budget of invalid frames.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type { BucketSpec } from "../../shared/backends/rate-limiter.ts";
import { asChatError, ChatError } from "../../shared/errors.ts";
import type { ClientFrame } from "../../shared/protocol/frames.ts";
import { type ParseResult, parseClientFrame } from "../../shared/protocol/parse.ts";
import type { Sessions } from "../auth/sessions.ts";
import type { AccessClaims, Tokens } from "../auth/tokens.ts";
import { takeToken } from "../core/rate.ts";
import { LocalBucket } from "./budget.ts";
import { Connection } from "./connection.ts";
import { dispatch, type Handled, type HandlerDeps } from "./handlers.ts";

export const WS_PATH = "/v1/ws";
/** frames waiting behind the one being handled, per socket, before the socket is refused more */
export const MAX_QUEUED_FRAMES = 64;
/**
 * Invalid frames one socket may send (a burst, refilled per second) before it is closed with
 * INVALID_FRAMES; each is answered with its error until then.
 */
export const INVALID_FRAME_BUDGET: BucketSpec = { capacity: 100, refillPerSecond: 1 };

/** One socket's inbound side: its queue of frames, its budgets, whether it is read. */
interface Inbound {
  queue: Promise<void>;
  queued: number;
  paused: boolean;
  /** the socket spent its invalid-frame budget: what it sends now is ignored, then it is closed */
  refusing: boolean;
  readonly invalid: LocalBucket;
  /** the user's bucket said to wait until then: frames before it are refused without asking */
  limitedUntil: number;
}

export class SocketServer {
  readonly #deps: HandlerDeps;
  readonly #tokens: Tokens;
  readonly #sessions: Sessions;
  readonly #wss: WebSocketServer;
  /** every accepted socket, from the upgrade on (the hub knows a socket only after its hello) */
  readonly #conns = new Set<Connection>();
  #sweep: NodeJS.Timeout | undefined;
  /** set while a sweep's session check is in flight; sweeps never overlap it */
  #checkingSessions = false;
  #accepting = true;

  constructor(deps: HandlerDeps, tokens: Tokens, sessions: Sessions) {
    this.#deps = deps;
    this.#tokens = tokens;
    this.#sessions = sessions;
    sessions.onRevoked((userId, sessionId) => this.#closeSession(userId, sessionId));
    sessions.onDisconnected((userId, reason) => this.#closeUser(userId, reason));
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.ctx.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // one message event per socket per turn of the event loop: a socket sending thousands of
      // small frames in one TCP read cannot hold the process for all of them at once
      allowSynchronousEvents: false,
    });
  }

  /** For the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (url.pathname !== WS_PATH) {
      reject(socket, 404, "Not Found");
      return;
    }
    if (!this.#accepting) {
      reject(socket, 503, "Service Unavailable");
      return;
    }
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ")
      ? header.slice(7)
      : url.searchParams.get("access_token");
    if (token === null || token === "") {
      reject(socket, 401, "Unauthorized");
      return;
    }
    this.#tokens.verifyAccess(token).then(
      (claims) => {
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, claims));
      },
      (err: unknown) =>
        err instanceof ChatError && err.status === 503
          ? reject(socket, 503, "Service Unavailable")
          : reject(socket, 401, "Unauthorized"),
    );
  }

  /**
   * Starts the heartbeat: every heartbeatMs each socket is pinged, and one that showed no life
   * (no pong, no frame) since the last sweep is closed with IDLE_TIMEOUT. One shared timer, not
   * one per socket. The sweep also closes the sockets of sessions revoked meanwhile, in case
   * the word of it did not reach this gateway (or the socket had not sent hello yet).
   */
  start(): void {
    this.#sweep ??= setInterval(() => this.#sweepSockets(), this.#deps.ctx.limits.heartbeatMs);
    this.#sweep.unref();
  }

  /** Stops accepting sockets and closes every open one with the resumable SHUTDOWN code. */
  drain(): void {
    this.#accepting = false;
    this.#deps.hub.drain();
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const conn of this.#conns) conn.close("SHUTDOWN", "gateway shutting down; resume");
  }

  #sweepSockets(): void {
    for (const conn of this.#conns) {
      if (!conn.alive) {
        conn.close("IDLE_TIMEOUT", "no pong in time");
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
    this.#checkSessions();
  }

  #checkSessions(): void {
    if (this.#checkingSessions || this.#conns.size === 0) return;
    this.#checkingSessions = true;
    const sessions = [...this.#conns].map((c) => c.sessionId);
    this.#sessions
      .revokedAmong(sessions)
      .then((revoked) => {
        for (const conn of this.#conns) {
          if (revoked.has(conn.sessionId)) conn.close("SESSION_REVOKED", "session revoked");
        }
      })
      .catch((err: unknown) => this.#deps.ctx.log.warn({ err }, "session sweep failed"))
      .finally(() => {
        this.#checkingSessions = false;
      });
  }

  /** Closes every socket of the session (on this gateway) with SESSION_REVOKED. */
  #closeSession(userId: string, sessionId: string): void {
    for (const conn of this.#conns) {
      if (conn.userId === userId && conn.sessionId === sessionId) {
        conn.close("SESSION_REVOKED", "session revoked; log in again");
      }
    }
  }

  /** Closes every socket of the user (on this gateway) with DISCONNECTED. */
  #closeUser(userId: string, reason: string | undefined): void {
    for (const conn of this.#conns) {
      if (conn.userId === userId)
        conn.close("DISCONNECTED", reason ?? "disconnected by the server");
    }
  }

  #accept(ws: WebSocket, claims: AccessClaims): void {
    const { ctx, hub } = this.#deps;
    // leaves the hub at once when the gateway closes the socket (its close handshake may take
    // up to CLOSE_GRACE_MS), or when the socket closes otherwise
    let detached = false;
    const detach = () => {
      if (detached) return;
      detached = true;
      this.#conns.delete(conn);
      ctx.metrics.connections.dec();
      hub.close(conn);
    };
    const conn = new Connection(ws, claims, ctx.limits.maxBufferedBytes, (reason) => {
      ctx.metrics.disconnects.inc({ reason });
      detach();
    });
    this.#conns.add(conn);
    ctx.metrics.connections.inc();
    ctx.metrics.connectionsTotal.inc();
    const inbound: Inbound = {
      queue: Promise.resolve(),
      queued: 0,
      paused: false,
      refusing: false,
      invalid: new LocalBucket(INVALID_FRAME_BUDGET),
      limitedUntil: 0,
    };

    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (conn.closed || inbound.refusing) return;
      conn.alive = true;
      // parsed on arrival, so that even a frame refused before its turn is answered with its id
      const parsed: ParseResult = isBinary ? refuseBinary(data) : parseClientFrame(data.toString());
      // the frame that spends the budget is still answered; the socket closes after the answers
      if (!parsed.ok && !inbound.invalid.take()) inbound.refusing = true;
      if (inbound.queued >= MAX_QUEUED_FRAMES) {
        // frames the receiver had read before the socket was paused
        this.#fail(
          conn,
          new ChatError("RATE_LIMITED", "too many frames in flight", { retryAfterMs: 100 }),
          parsed.ok ? requestIdOf(parsed.frame) : parsed.id,
        );
      } else {
        inbound.queued++;
        if (inbound.queued >= MAX_QUEUED_FRAMES) {
          // read no more from this socket until its queue is half empty
          inbound.paused = true;
          ws.pause();
        }
        const done = () => {
          inbound.queued--;
          if (inbound.paused && inbound.queued <= MAX_QUEUED_FRAMES / 2) {
            inbound.paused = false;
            ws.resume();
          }
        };
        // frames are handled one after another; a message's produce stays in flight while the
        // next frames are handled, and counts as queued until it is answered
        inbound.queue = inbound.queue
          .then(() => this.#handle(conn, inbound, parsed))
          .then((handled) => {
            if (handled === undefined) done();
            else void handled.inFlight.finally(done);
          }, done);
      }
      if (inbound.refusing) {
        inbound.queue = inbound.queue.then(() =>
          conn.close("INVALID_FRAMES", "too many invalid frames"),
        );
      }
    });
    ws.on("pong", () => {
      conn.alive = true;
    });
    ws.on("error", (err) => {
      // ws reports protocol violations (e.g. a frame over maxPayload) here and closes the socket
      ctx.log.debug({ err: err.message, user: conn.userId }, "socket error");
    });
    ws.on("close", (code) => {
      if (!conn.closed) {
        conn.closed = true;
        ctx.metrics.disconnects.inc({ reason: code === 1009 ? "FRAME_TOO_LARGE" : "CLIENT" });
      }
      detach();
    });
  }

  /** Handles the frame; resolves with what is still in flight (neither ever rejects). */
  async #handle(conn: Connection, inbound: Inbound, parsed: ParseResult): Promise<Handled> {
    if (conn.closed) return undefined;
    if (!parsed.ok) {
      // an invalid frame costs a token like any other (an empty bucket answers RATE_LIMITED)
      try {
        await this.#takeToken(conn, inbound);
      } catch (err) {
        this.#fail(conn, asChatError(err), parsed.id);
        return undefined;
      }
      this.#fail(conn, parsed.error, parsed.id);
      return undefined;
    }
    const frame = parsed.frame;
    const { ctx } = this.#deps;
    ctx.metrics.framesIn.inc({ type: frame.type });
    const requestId = requestIdOf(frame);
    const answer = (err: unknown) => {
      const e = asChatError(err);
      if (e.code === "INTERNAL") ctx.log.error({ err, type: frame.type }, "frame failed");
      this.#fail(conn, e, requestId);
    };
    try {
      if (frame.type !== "ping" && frame.type !== "hello") await this.#takeToken(conn, inbound);
      const handled = await dispatch(this.#deps, conn, frame);
      // wrapped: an async function resolved with a promise would wait for it
      return handled && { inFlight: handled.inFlight.catch(answer) };
    } catch (err) {
      answer(err);
      return undefined;
    }
  }

  /**
   * A token from the user's bucket. After a refusal, the socket's frames are refused on the spot
   * until the retry time the limiter gave, so a socket that ignores retry_after_ms does not turn
   * each of its frames into a limiter call.
   */
  async #takeToken(conn: Connection, inbound: Inbound): Promise<void> {
    const { ctx } = this.#deps;
    const wait = inbound.limitedUntil - performance.now();
    if (wait > 0) throw new ChatError("RATE_LIMITED", "slow down", { retryAfterMs: wait });
    try {
      await takeToken(ctx, `user:${conn.userId}`, ctx.limits.userRate);
    } catch (err) {
      if (err instanceof ChatError && err.code === "RATE_LIMITED" && err.retryAfterMs) {
        inbound.limitedUntil = performance.now() + err.retryAfterMs;
      }
      throw err;
    }
  }

  #fail(conn: Connection, e: ChatError, id: string | undefined): void {
    this.#deps.ctx.metrics.errors.inc({ code: e.code });
    conn.send({
      type: "error",
      ...(id === undefined ? {} : { id }),
      code: e.code,
      message: e.message,
      ...(e.retryAfterMs === undefined ? {} : { retry_after_ms: Math.ceil(e.retryAfterMs) }),
    });
  }
}

const requestIdOf = (frame: ClientFrame): string | undefined => frame.id;

/** A binary frame is refused, with the id of the frame it holds if it holds a readable one. */
function refuseBinary(data: RawData): ParseResult {
  const bytes = Array.isArray(data)
    ? Buffer.concat(data)
    : Buffer.isBuffer(data)
      ? data
      : Buffer.from(data);
  const inside = parseClientFrame(bytes.toString());
  return {
    ok: false,
    error: new ChatError("INVALID_FRAME", "binary frames are not accepted; send JSON text"),
    id: inside.ok ? requestIdOf(inside.frame) : inside.id,
  };
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
