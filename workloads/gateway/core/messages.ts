// Sending, reading and marking messages read. A send is validated, rate-limited by the caller,
// given its deterministic id and produced to the bus keyed by room (acks = all); the forwarder
// sequences and stores it, and the sender's ack comes back through the delivery path.

import { context } from "@opentelemetry/api";
import { inSpan, SpanKind, SpanNames, traceHeaders } from "#contract/telemetry/tracing";
import type { MessageContent, MsgType, StoredMessage } from "../../shared/domain.ts";
import { ChatError, UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import { type BusEvent, encode } from "../../shared/events.ts";
import { messageId } from "../../shared/ids.ts";
import type { GatewayContext } from "./context.ts";

export interface SendRequest {
  readonly senderId: string;
  readonly roomId: string;
  readonly clientMsgId: string;
  readonly msgType: MsgType;
  readonly content: MessageContent;
}

/** Which content fields each message type needs. */
export function checkContent(msgType: MsgType, content: MessageContent): void {
  switch (msgType) {
    case "text":
    case "system":
      if (typeof content.text !== "string" || content.text.trim() === "") {
        throw new ChatError("BAD_REQUEST", `${msgType} messages need a non-empty content.text`);
      }
      return;
    case "image":
    case "file":
      if (typeof content.url !== "string") {
        throw new ChatError("BAD_REQUEST", `${msgType} messages need content.url`);
      }
      return;
  }
}

export class Messages {
  readonly #ctx: GatewayContext;

  constructor(ctx: GatewayContext) {
    this.#ctx = ctx;
  }

  /** Produces the message; resolves its id once the bus acknowledged it (acks = all). */
  async send(req: SendRequest): Promise<string> {
    checkContent(req.msgType, req.content);
    if (req.msgType === "system") {
      throw new ChatError("FORBIDDEN", "system messages are sent by the server only");
    }
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
            "the message bus did not accept the message; retry with the same client_msg_id",
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

  async history(
    roomId: string,
    q: { before?: number; after?: number; limit: number },
  ): Promise<StoredMessage[]> {
    return this.#ctx.store.history(roomId, q);
  }

  /** Records a read position through the bus, so it is stored and broadcast in room order. */
  async markSeen(userId: string, roomId: string, seq: number): Promise<void> {
    const state = (await this.#ctx.store.roomStates([roomId])).get(roomId);
    if (seq > (state?.lastSeq ?? 0)) {
      throw new ChatError(
        "BAD_REQUEST",
        `seq ${seq} is beyond the room's last message (${state?.lastSeq ?? 0})`,
      );
    }
    const event: BusEvent = { kind: "seen", roomId, userId, seq };
    await this.#ctx.bus.publish(this.#ctx.topic, [
      { key: roomId, value: encode(event), headers: traceHeaders() },
    ]);
  }
}
