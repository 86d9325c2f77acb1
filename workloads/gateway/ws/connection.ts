// One client socket: who it is, what it has received per room, and a bounded send path.
import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";
import { CloseCodes, type CloseReason } from "../../shared/protocol/close-codes.ts";
import type { ServerFrame } from "../../shared/protocol/frames.ts";
import type { RoomCursor } from "./cursor.ts";

/**
 * How long a socket the gateway closes has to complete the close handshake (read the close frame
 * queued behind its unsent frames, and answer it) before the TCP connection is dropped. Until
 * then the socket holds at most its buffer limit.
 */
export const CLOSE_GRACE_MS = 10_000;

export class Connection {
  readonly id = randomUUID();
  readonly userId: string;
  readonly username: string;
  readonly rooms = new Map<string, RoomCursor>();
  /** set by the hello frame; no other frame (but ping) is served before it */
  started = false;
  /** false after a heartbeat ping until the socket shows life */
  alive = true;
  closed = false;
  readonly #ws: WebSocket;
  readonly #maxBufferedBytes: number;
  readonly #onClose: (reason: CloseReason) => void;

  constructor(
    ws: WebSocket,
    user: { userId: string; username: string },
    maxBufferedBytes: number,
    onClose: (reason: CloseReason) => void,
  ) {
    this.#ws = ws;
    this.userId = user.userId;
    this.username = user.username;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#onClose = onClose;
  }

  send(frame: ServerFrame): void {
    this.sendRaw(JSON.stringify(frame));
  }

  /**
   * Writes a serialized frame — a string, or the UTF-8 bytes of one shared by many sockets (ws
   * then skips encoding it again for each) — or drops the socket if the client reads too slowly.
   */
  sendRaw(data: string | Buffer): void {
    if (this.closed) return;
    if (this.#ws.bufferedAmount + data.length > this.#maxBufferedBytes) {
      this.close("SLOW_CONSUMER", "client is not reading; reconnect and resume");
      return;
    }
    if (typeof data === "string") this.#ws.send(data);
    else this.#ws.send(data, { binary: false });
  }

  close(reason: CloseReason, text = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose(reason);
    // the close frame goes out after what is queued, so a client that reads again sees the code
    // (terminating at once would reset the connection: the client saw 1006, not 4003); a peer
    // that does not complete the close handshake in time (it stopped reading, or it is gone)
    // is dropped
    this.#ws.close(CloseCodes[reason].code, text);
    const ws = this.#ws;
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  ping(): void {
    if (!this.closed) this.#ws.ping();
  }
}
