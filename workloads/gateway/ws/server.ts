// The WebSocket endpoint: authenticates the upgrade, then reads frames one at a time per socket
// (so a client's messages keep their order), rate-limits them, and answers every failure with
// an error frame. Nothing a client sends can crash the process or disturb other sockets.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { asChatError, ChatError } from "../../shared/errors.ts";
import { parseClientFrame } from "../../shared/protocol/parse.ts";
import type { Sessions } from "../auth/sessions.ts";
import type { AccessClaims, Tokens } from "../auth/tokens.ts";
import { takeToken } from "../core/rate.ts";
import { Connection } from "./connection.ts";
import { dispatch, type HandlerDeps } from "./handlers.ts";

export const WS_PATH = "/v1/ws";
/** frames waiting behind the one being handled, per socket, before the socket is refused more */
export const MAX_QUEUED_FRAMES = 64;

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
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.ctx.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
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

  #accept(ws: WebSocket, claims: AccessClaims): void {
    const { ctx, hub } = this.#deps;
    const conn = new Connection(ws, claims, ctx.limits.maxBufferedBytes, (reason) => {
      ctx.metrics.disconnects.inc({ reason });
    });
    this.#conns.add(conn);
    ctx.metrics.connections.inc();
    ctx.metrics.connectionsTotal.inc();
    let queue: Promise<void> = Promise.resolve();
    let queued = 0;

    ws.on("message", (data: RawData, isBinary: boolean) => {
      conn.alive = true;
      if (isBinary) {
        this.#fail(
          conn,
          new ChatError("INVALID_FRAME", "binary frames are not accepted; send JSON text"),
          undefined,
        );
        return;
      }
      if (queued >= MAX_QUEUED_FRAMES) {
        this.#fail(
          conn,
          new ChatError("RATE_LIMITED", "too many frames in flight", { retryAfterMs: 100 }),
          undefined,
        );
        return;
      }
      queued++;
      const text = data.toString();
      queue = queue
        .then(() => this.#handle(conn, text))
        .finally(() => {
          queued--;
        });
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
      this.#conns.delete(conn);
      ctx.metrics.connections.dec();
      hub.close(conn);
    });
  }

  async #handle(conn: Connection, text: string): Promise<void> {
    if (conn.closed) return;
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.#fail(conn, parsed.error, parsed.id);
      return;
    }
    const frame = parsed.frame;
    const { ctx } = this.#deps;
    ctx.metrics.framesIn.inc({ type: frame.type });
    const requestId = "id" in frame ? frame.id : undefined;
    try {
      if (frame.type !== "ping" && frame.type !== "hello") {
        await takeToken(ctx, `user:${conn.userId}`, ctx.limits.userRate);
      }
      await dispatch(this.#deps, conn, frame);
    } catch (err) {
      const e = asChatError(err);
      if (e.code === "INTERNAL") ctx.log.error({ err, type: frame.type }, "frame failed");
      this.#fail(conn, e, requestId);
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

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
