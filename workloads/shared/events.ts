// What travels between the workloads, apart from client frames:
// - BusEvent: gateway → Kafka → forwarder (key = room id, so a room's events keep one order);
// - Delivery: forwarder (or gateway) → the gateway pods that hold the receivers.
import type { MessageContent, MsgType, StoredMessage } from "./domain.ts";

export const MESSAGES_TOPIC_SUFFIX = "messages";

export type BusEvent =
  | {
      readonly kind: "message";
      /** deterministic from (sender, client_msg_id): a retry carries the same id */
      readonly id: string;
      readonly roomId: string;
      readonly senderId: string;
      readonly clientMsgId: string;
      readonly msgType: MsgType;
      readonly content: MessageContent;
      readonly sentAt: string;
      /** a reply: the seq of an earlier message of the room (checked by the gateway) */
      readonly replyTo?: number;
    }
  | {
      readonly kind: "seen";
      readonly roomId: string;
      readonly userId: string;
      readonly seq: number;
    }
  | {
      readonly kind: "member";
      readonly roomId: string;
      readonly userId: string;
      readonly change: "joined" | "left";
      /** the WebSocket request id of the member's own frame, echoed to them */
      readonly requestId?: string;
      /**
       * users told wherever they are, subscribed to the room or not yet (the end of a match
       * reaches the partner even while their socket is still joining the room)
       */
      readonly notify?: readonly string[];
    }
  | {
      readonly kind: "matched";
      readonly roomId: string;
      readonly userId: string;
      readonly ticketId: string;
      readonly partner: PublicProfile;
    };

export interface PublicProfile {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
}

export interface DeliveredMessage {
  readonly roomId: string;
  readonly seq: number;
  readonly id: string;
  readonly senderId: string;
  readonly clientMsgId: string;
  readonly msgType: MsgType;
  readonly content: MessageContent;
  readonly createdAt: string;
  readonly replyTo?: number;
}

/** A stored message as it is delivered (and answered in history). */
export const fromStored = (m: StoredMessage): DeliveredMessage => ({
  roomId: m.roomId,
  seq: m.seq,
  id: m.id,
  senderId: m.senderId,
  clientMsgId: m.clientMsgId,
  msgType: m.msgType,
  content: m.content,
  createdAt: m.createdAt.toISOString(),
  ...(m.replyTo === undefined ? {} : { replyTo: m.replyTo }),
});

/** A reply's target as the bus may carry it: a positive safe integer, or nothing. */
export const isReplyTo = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 1;

/** One payload on a gateway's delivery channel. */
export type Delivery =
  | { readonly kind: "message"; readonly message: DeliveredMessage; readonly traceparent?: string }
  | {
      readonly kind: "seen";
      readonly roomId: string;
      readonly userId: string;
      readonly seq: number;
    }
  | {
      readonly kind: "member";
      readonly roomId: string;
      readonly userId: string;
      readonly change: "joined" | "left";
      /** for joined: the room's last seq before the join; the member receives what follows */
      readonly fromSeq?: number;
      readonly requestId?: string;
      readonly notify?: readonly string[];
    }
  | {
      readonly kind: "typing";
      readonly roomId: string;
      readonly userId: string;
      readonly state: "start" | "stop";
    }
  | {
      readonly kind: "presence";
      readonly roomId: string;
      readonly userId: string;
      readonly online: boolean;
    }
  | {
      readonly kind: "matched";
      readonly roomId: string;
      readonly userId: string;
      readonly ticketId: string;
      readonly partner: PublicProfile;
    }
  | {
      /** the user's login session was revoked: refuse it and close its sockets */
      readonly kind: "revoked";
      readonly userId: string;
      readonly sessionId: string;
    }
  | {
      /**
       * the user's unread notification count changed (recorded, or marked read): each gateway
       * holding sockets of theirs reads the count and sends it to them
       */
      readonly kind: "unread";
      readonly userId: string;
    }
  | {
      /** a backend disconnected the user (server API): close every socket of theirs */
      readonly kind: "disconnect";
      readonly userId: string;
      /** the close frame's reason text */
      readonly reason?: string;
    };

export const encode = (v: BusEvent | Delivery): string => JSON.stringify(v);

/** Events come from our own workloads, but a bad record must never stop a consumer. */
export function decodeBusEvent(value: string): BusEvent | undefined {
  try {
    const v = JSON.parse(value) as { kind?: unknown; roomId?: unknown; replyTo?: unknown };
    if (typeof v !== "object" || v === null || typeof v.roomId !== "string") return undefined;
    if (v.kind === "message") {
      // a malformed reply target is dropped: the message itself still counts
      if (v.replyTo !== undefined && !isReplyTo(v.replyTo)) delete v.replyTo;
      return v as BusEvent;
    }
    if (v.kind === "seen" || v.kind === "member" || v.kind === "matched") {
      return v as BusEvent;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export function decodeDelivery(value: string): Delivery | undefined {
  try {
    const v = JSON.parse(value) as { kind?: unknown };
    if (typeof v !== "object" || v === null) return undefined;
    switch (v.kind) {
      case "message":
      case "seen":
      case "member":
      case "typing":
      case "presence":
      case "matched":
      case "revoked":
      case "disconnect":
      case "unread":
        return v as Delivery;
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
