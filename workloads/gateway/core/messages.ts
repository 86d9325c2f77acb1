// Sending, reading and marking messages read. A send is validated, rate-limited by the caller,
// given its deterministic id and produced to the bus keyed by room (acks = all); the forwarder
// sequences and stores it, and the sender's ack comes back through the delivery path.

import { setTimeout as delay } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { context } from "@opentelemetry/api";
import { inSpan, SpanKind, SpanNames, traceHeaders } from "#contract/telemetry/tracing";
import type { MessageContent, MsgType, StoredMessage } from "../../shared/domain.ts";
import { ChatError, UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import { type BusEvent, encode, isReplyTo } from "../../shared/events.ts";
import { messageId } from "../../shared/ids.ts";
import type { GatewayContext } from "./context.ts";
import { type LiveSeqs, lacksLive } from "./live-seqs.ts";
import type { Uploads } from "./uploads.ts";

export interface SendRequest {
  readonly senderId: string;
  readonly roomId: string;
  readonly clientMsgId: string;
  readonly msgType: MsgType;
  readonly content: MessageContent;
  /** a reply: the seq of an earlier message of the room */
  readonly replyTo?: number;
}

/** Which content fields each message type needs. */
export function checkContent(msgType: MsgType, content: MessageContent): void {
  switch (msgType) {
    case "text":
    case "system":
      if (typeof content.text !== "string" || content.text.trim() === "") {
        throw new ChatError("BAD_REQUEST", `${msgType} messages need a non-empty content.text`);
      }
      if (content.key !== undefined) {
        throw new ChatError("BAD_REQUEST", "content.key is for image and file messages");
      }
      return;
    case "image":
    case "file":
      if ((content.key === undefined) === (content.url === undefined)) {
        throw new ChatError(
          "BAD_REQUEST",
          `${msgType} messages need content.key (an upload of the room) or content.url, not both`,
        );
      }
      return;
  }
}

/**
 * How long the server API waits for a posted message to be stored before answering UNAVAILABLE
 * (or the ack timeout, if shorter).
 */
export const SERVER_POST_WAIT_MS = 10_000;
/** The first and the longest pause between two reads of the store while waiting for it. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 200;
/** Longest a history read waits for the store to hold what this gateway delivered live. */
export const LIVE_WAIT_MS = 2_000;

/** A message the server API posts, and whether this request created it or found it stored. */
export interface PostedMessage {
  readonly message: StoredMessage;
  readonly created: boolean;
}

export class Messages {
  readonly #ctx: GatewayContext;
  readonly #uploads: Uploads;
  readonly #live: LiveSeqs;

  constructor(ctx: GatewayContext, uploads: Uploads, live: LiveSeqs) {
    this.#ctx = ctx;
    this.#uploads = uploads;
    this.#live = live;
  }

  /** Produces the message; resolves its id once the bus acknowledged it (acks = all). */
  async send(req: SendRequest): Promise<string> {
    return (await this.accept(req)).produced;
  }

  /**
   * Checks the message and hands it to the bus: once this resolves, its record is queued behind
   * every record queued before it, so the caller may accept the socket's next message while
   * `produced` is in flight (a socket's sends reach the partition in the order they came).
   * `produced` resolves with the message id once the bus acknowledged it (acks = all).
   */
  async accept(req: SendRequest): Promise<{ readonly produced: Promise<string> }> {
    checkContent(req.msgType, req.content);
    if (req.msgType === "system") {
      throw new ChatError("FORBIDDEN", "system messages are sent by the server only");
    }
    await this.#checkReply(req);
    const checked = await this.#withObject(req);
    return { produced: this.#produce(checked) };
  }

  /**
   * A reply answers a message the room has: seq 1 to the room's last seq. Read before the
   * produce, so the reply always comes after the message it answers.
   */
  async #checkReply(req: SendRequest): Promise<void> {
    const to = req.replyTo;
    if (to === undefined) return;
    if (!isReplyTo(to)) {
      throw new ChatError("REPLY_TO_NOT_FOUND", `reply_to must be a positive integer, got ${to}`);
    }
    const stored = (await this.#ctx.store.roomStates([req.roomId])).get(req.roomId)?.lastSeq ?? 0;
    // a message delivered here may not be stored yet (docs/decisions/0024)
    const last = Math.max(stored, this.#live.highest(req.roomId) ?? 0);
    if (to > last) {
      throw new ChatError(
        "REPLY_TO_NOT_FOUND",
        last === 0
          ? `reply_to ${to}: the room has no message yet`
          : `reply_to ${to}: the room's messages are 1 to ${last}`,
      );
    }
  }

  /** An image or file message that names an uploaded object, checked against the store. */
  async #withObject(req: SendRequest): Promise<SendRequest> {
    if (req.content.key === undefined) return req;
    const content = await this.#uploads.checkAttachment(req.roomId, req.msgType, req.content);
    return { ...req, content };
  }

  /**
   * The server API's send (a `system` or `bot:<name>` sender, any message type): the same id,
   * bus, sequencing and storage as a user's message, the idempotency key as its client_msg_id.
   * A message already stored under the key is returned as it is (IDEMPOTENCY_KEY_REUSED if this
   * request asks for another one); otherwise it is produced and the store is read until the
   * forwarder stored it, so the answer carries its seq. A retry of a request that timed out
   * produces the same id again, which the forwarder stores once.
   */
  async post(posted: SendRequest): Promise<PostedMessage> {
    checkContent(posted.msgType, posted.content);
    const req = await this.#withObject(posted);
    const id = messageId(req);
    const stored = await this.#ctx.store.messageById(req.roomId, id);
    if (stored !== undefined) return { message: sameMessage(stored, req), created: false };
    await this.#checkReply(req);
    await this.#produce(req);
    const deadline = Date.now() + Math.min(SERVER_POST_WAIT_MS, this.#ctx.limits.ackTimeoutMs);
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      const found = await this.#ctx.store.messageById(req.roomId, id);
      if (found !== undefined) return { message: sameMessage(found, req), created: true };
      if (Date.now() + pause > deadline) break;
      await delay(pause);
    }
    throw new ChatError(
      "UNAVAILABLE",
      "the message was accepted but not stored in time; retry with the same idempotency_key",
      { retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS },
    );
  }

  async #produce(req: SendRequest): Promise<string> {
    const id = messageId(req);
    const event: BusEvent = {
      kind: "message",
      id,
      roomId: req.roomId,
      senderId: req.senderId,
      clientMsgId: req.clientMsgId,
      msgType: req.msgType,
      content: req.content,
      sentAt: new Date().toISOString(),
      ...(req.replyTo === undefined ? {} : { replyTo: req.replyTo }),
    };
    await inSpan(
      SpanNames.send,
      SpanKind.PRODUCER,
      context.active(),
      {
        "messaging.destination.name": this.#ctx.topic,
        "switchboard.room_id": req.roomId,
        "switchboard.message_id": id,
      },
      async () => {
        const end = this.#ctx.metrics.busProduce.startTimer();
        try {
          await this.#ctx.bus.publish(this.#ctx.topic, [
            { key: req.roomId, value: encode(event), headers: traceHeaders() },
          ]);
        } catch (err) {
          this.#ctx.log.warn({ err, roomId: req.roomId }, "produce failed");
          throw new ChatError(
            "UNAVAILABLE",
            "the message bus did not accept the message; retry with the same client_msg_id (server API: idempotency_key)",
            { retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS },
          );
        } finally {
          end();
        }
      },
    );
    this.#ctx.metrics.messagesIn.inc();
    return id;
  }

  /**
   * A page of history that includes what this gateway delivered (acked) live: the store may
   * lag an ack by a write (docs/decisions/0024), so the page is read again, 5 ms doubling,
   * until it does or LIVE_WAIT_MS pass (the store is away: what it holds is the answer).
   */
  async history(
    roomId: string,
    q: { before?: number; after?: number; limit: number },
  ): Promise<StoredMessage[]> {
    const deadline = Date.now() + LIVE_WAIT_MS;
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      const page = await this.#ctx.store.history(roomId, q);
      if (!lacksLive(page, q, this.#live.highest(roomId)) || Date.now() + pause > deadline) {
        return page;
      }
      await delay(pause);
    }
  }

  /** Records a read position through the bus, so it is stored and broadcast in room order. */
  async markSeen(userId: string, roomId: string, seq: number): Promise<void> {
    const state = (await this.#ctx.store.roomStates([roomId])).get(roomId);
    // a message delivered here may not be stored yet (docs/decisions/0024)
    const last = Math.max(state?.lastSeq ?? 0, this.#live.highest(roomId) ?? 0);
    if (seq > last) {
      throw new ChatError("BAD_REQUEST", `seq ${seq} is beyond the room's last message (${last})`);
    }
    const event: BusEvent = { kind: "seen", roomId, userId, seq };
    await this.#ctx.bus.publish(this.#ctx.topic, [
      { key: roomId, value: encode(event), headers: traceHeaders() },
    ]);
  }
}

/** The stored message, if it is the one the request asks for (its key is not reused). */
function sameMessage(stored: StoredMessage, req: SendRequest): StoredMessage {
  if (
    stored.msgType !== req.msgType ||
    stored.replyTo !== req.replyTo ||
    !isDeepStrictEqual(stored.content, req.content)
  ) {
    throw new ChatError(
      "IDEMPOTENCY_KEY_REUSED",
      `idempotency_key ${JSON.stringify(req.clientMsgId)} was used for another message in this room`,
    );
  }
  return stored;
}
