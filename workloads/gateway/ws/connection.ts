// One client socket: who it is, what it has received per room, and a bounded send path.
import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";
import { CloseCodes, type CloseReason } from "../../shared/protocol/close-codes.ts";
import type { ServerFrame } from "../../shared/protocol/frames.ts";
import type { RoomCursor } from "./cursor.ts";

export class Connection {
  readonly id = randomUUID();
  readonly userId: string;
  readonly username: string;
  /** the login session of the access token the socket was opened with */
  readonly sessionId: string;
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
    user: { userId: string; username: string; sessionId: string },
    maxBufferedBytes: number,
    onClose: (reason: CloseReason) => void,
  ) {
    this.#ws = ws;
    this.userId = user.userId;
    this.username = user.username;
    this.sessionId = user.sessionId;
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
    if (reason === "SLOW_CONSUMER" || reason === "IDLE_TIMEOUT") {
      // the peer is not reading: a close handshake would wait on it
      this.#ws.close(CloseCodes[reason].code, text);
      this.#ws.terminate();
    } else {
      this.#ws.close(CloseCodes[reason].code, text);
    }
  }

  ping(): void {
    if (!this.closed) this.#ws.ping();
  }
}
