// The WebSocket protocol: one TypeBox schema per frame. These schemas are the source of truth:
// the TypeScript types below, the JSON Schema in docs/protocol.schema.json, the AsyncAPI
// document and the frame tables of docs/protocol.md are derived from them
// (workloads/gateway/ws/protocol-docs.ts, written by hack/gen-protocol.ts).
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { type ErrorCode, ErrorCodes } from "../errors.ts";

const Id = Type.String({ minLength: 1, maxLength: 64, description: "client request id, echoed" });
const UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/** a lowercase UUID, described */
const uuid = (description: string) => Type.String({ pattern: UUID_PATTERN, description });
/** a lowercase UUID */
const Uuid = Type.String({ pattern: UUID_PATTERN });
/**
 * A sender the server API posts as (docs/server-api.md): `system`, or `bot:` and a name. Neither
 * can be a user's id (a UUID), so clients tell them apart by form.
 */
/** the server API's own sender, also the creator of the rooms it creates */
export const SYSTEM_SENDER = "system";
const SERVER_SENDER = `${SYSTEM_SENDER}|bot:[a-z0-9][a-z0-9_-]{0,31}`;
export const SERVER_SENDER_PATTERN = `^(${SERVER_SENDER})$`;
/** who sent a message: a user's id, or a server sender */
export const SenderId = Type.String({
  pattern: `^(${UUID_PATTERN.slice(1, -1)}|${SERVER_SENDER})$`,
  description:
    "the sending user's id, or a backend's sender through the server API: `system` or `bot:<name>` (never a user id)",
});
const Seq = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "per-room sequence number: 1, 2, 3, ... without gaps",
});
const replyTo = (description: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });
/** what a sender gives to answer an earlier message */
export const ReplyTo = replyTo(
  "a reply: the seq of an earlier message of the same room, 1 to the room's last seq (else REPLY_TO_NOT_FOUND)",
);
const ClientMsgId = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "the sender's idempotency key: a retry with the same one creates no new message",
});
const MsgType = Type.Union([
  Type.Literal("text"),
  Type.Literal("image"),
  Type.Literal("file"),
  Type.Literal("system"),
]);
export const Content = Type.Object(
  {
    text: Type.Optional(Type.String({ maxLength: 4000 })),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          "image and file messages: the key of an object uploaded to this room (POST /v1/rooms/{id}/uploads); a download URL comes from GET /v1/rooms/{id}/objects/{object_id}",
      }),
    ),
    url: Type.Optional(
      Type.String({
        maxLength: 2048,
        format: "uri",
        description: "an external link instead of a key",
      }),
    ),
    name: Type.Optional(Type.String({ maxLength: 255 })),
    size: Type.Optional(Type.Integer({ minimum: 0 })),
    mime: Type.Optional(Type.String({ maxLength: 127 })),
  },
  { additionalProperties: false },
);

const frame = <T extends string, P extends Record<string, TSchema>>(
  type: T,
  props: P,
  description: string,
) =>
  Type.Object(
    { type: Type.Literal(type), ...props },
    { additionalProperties: false, description, $id: type },
  );

// ---- client → server ----

export const HelloFrame = frame(
  "hello",
  {
    id: Type.Optional(Id),
    resume: Type.Optional(
      Type.Record(Uuid, Seq, {
        additionalProperties: false,
        description: "room id → last seq the client has; what follows is replayed",
      }),
    ),
  },
  "Opens the session; with resume, replays each room's messages after the given seq before live ones.",
);
export const JoinFrame = frame(
  "join",
  { id: Type.Optional(Id), room_id: Uuid },
  "Join a group or channel.",
);
export const LeaveFrame = frame("leave", { id: Type.Optional(Id), room_id: Uuid }, "Leave a room.");
export const MessageFrame = frame(
  "message",
  {
    id: Type.Optional(Id),
    room_id: Type.Optional(Uuid),
    to_user_id: Type.Optional(Uuid),
    client_msg_id: ClientMsgId,
    msg_type: MsgType,
    content: Content,
    reply_to: Type.Optional(ReplyTo),
  },
  "Send a message to a room (room_id) or directly to a user (to_user_id); exactly one of them. With reply_to, it answers an earlier message of the room.",
);
export const TypingFrame = frame(
  "typing",
  {
    id: Type.Optional(Id),
    room_id: Uuid,
    state: Type.Union([Type.Literal("start"), Type.Literal("stop")]),
  },
  "Typing indicator; ephemeral, never stored.",
);
export const SeenFrame = frame(
  "seen",
  { id: Type.Optional(Id), room_id: Uuid, seq: Seq },
  "Marks the room read up to seq; stored and broadcast to the room.",
);
export const PresenceFrame = frame(
  "presence",
  { id: Type.Optional(Id), room_id: Uuid },
  "Asks who in the room is online.",
);
export const PingFrame = frame("ping", { id: Type.Optional(Id) }, "Application-level ping.");
const Tag = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: "^[^,]+$",
  description: "an interest, such as chess; compared case-insensitively; no commas",
});
const TicketId = uuid("the match ticket: one per match request, the same for every retry of it");
const RequestId = Type.String({
  minLength: 1,
  maxLength: 64,
  description:
    "idempotency key chosen by the client for one match request: every retry with it, on any gateway and over REST too, returns the same ticket",
});
export const MatchFrame = frame(
  "match",
  {
    id: Type.Optional(Id),
    request_id: RequestId,
    tags: Type.Optional(
      Type.Array(Tag, {
        maxItems: 10,
        uniqueItems: true,
        description:
          "interests: the partner shares at least one, unless both have waited the fallback time (then anyone); none: anyone",
      }),
    ),
    language: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 16,
        description:
          "a language tag such as en or pt-br (case-insensitive): the partner asked for the same or for none, unless both have waited the fallback time",
      }),
    ),
  },
  "Asks to be matched with a random stranger, first come first served. Answered by match_ticket (state pending, or the ticket's current state on a retry); the match itself arrives as matched. A user holds at most one pending ticket: while one is pending, any match request returns it. The ticket is dropped when the user's last socket on the cluster closes (another tab keeps it). A new match ends the user's current match room.",
);
export const MatchCancelFrame = frame(
  "match_cancel",
  {
    id: Type.Optional(Id),
    ticket_id: Type.Optional(
      uuid("the ticket to cancel; without it, whichever ticket of the user is pending"),
    ),
  },
  "Cancels a pending match ticket; answered by match_ticket with state cancelled (again: no change). Errors: MATCH_TICKET_NOT_FOUND (no such ticket of yours, or none pending), MATCH_ALREADY_MATCHED (too late: leave the match room to end the match).",
);

export const ClientFrameSchemas = [
  HelloFrame,
  JoinFrame,
  LeaveFrame,
  MessageFrame,
  TypingFrame,
  SeenFrame,
  PresenceFrame,
  PingFrame,
  MatchFrame,
  MatchCancelFrame,
] as const;
export type ClientFrame = Static<(typeof ClientFrameSchemas)[number]>;
export type ClientFrameType = ClientFrame["type"];

// ---- server → client ----

const MessageBody = {
  room_id: Uuid,
  seq: Seq,
  message_id: Uuid,
  sender_id: SenderId,
  client_msg_id: ClientMsgId,
  msg_type: MsgType,
  content: Content,
  created_at: Type.String({ format: "date-time" }),
  reply_to: Type.Optional(
    replyTo("present on a reply: the seq of the earlier message of the room it answers"),
  ),
};

export const WelcomeFrame = frame(
  "welcome",
  {
    id: Type.Optional(Id),
    user_id: Uuid,
    session_id: Type.String({ description: "the gateway process serving this socket" }),
    heartbeat_ms: Type.Integer({
      description:
        "the server pings this often; a socket silent from one ping to the next is closed",
    }),
    max_frame_bytes: Type.Integer({ description: "larger frames close the socket with 1009" }),
    rooms: Type.Array(
      Type.Object({ room_id: Uuid, last_seq: Seq }, { additionalProperties: false }),
      { description: "every room of the user, with its current last seq" },
    ),
    unread_notifications: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 999,
        description:
          "the user's unread notifications (GET /v1/notifications), at most 999; absent when they could not be counted in time",
      }),
    ),
  },
  "Session opened; lists the rooms the connection receives and their last seq.",
);
export const AckFrame = frame(
  "ack",
  {
    id: Type.Optional(Id),
    room_id: Uuid,
    client_msg_id: ClientMsgId,
    message_id: Uuid,
    seq: Seq,
    created_at: Type.String({ format: "date-time" }),
  },
  "The message is durable and sequenced. A retry with the same client_msg_id gets the same ack.",
);
export const ServerMessageFrame = frame(
  "message",
  MessageBody,
  "A message in a room, in seq order.",
);
export const UserJoinedFrame = frame(
  "user_joined",
  { id: Type.Optional(Id), room_id: Uuid, user_id: Uuid },
  "A user joined the room.",
);
export const UserLeftFrame = frame(
  "user_left",
  { id: Type.Optional(Id), room_id: Uuid, user_id: Uuid },
  "A user left the room. In a match room the match ended: both members are removed (each socket receives user_left for both) and the room takes no more messages.",
);
export const ServerTypingFrame = frame(
  "typing",
  {
    room_id: Uuid,
    user_id: Uuid,
    state: Type.Union([Type.Literal("start"), Type.Literal("stop")]),
  },
  "Someone is typing.",
);
export const ServerSeenFrame = frame(
  "seen",
  { id: Type.Optional(Id), room_id: Uuid, user_id: Uuid, seq: Seq },
  "A member read the room up to seq.",
);
export const ServerPresenceFrame = frame(
  "presence",
  {
    id: Type.Optional(Id),
    room_id: Uuid,
    online: Type.Array(Uuid, { description: "user ids online" }),
    offline: Type.Optional(Type.Array(Uuid, { description: "user ids that went offline" })),
  },
  "An answer to presence lists every member online; a change lists who came online or went offline.",
);
export const ErrorFrame = frame(
  "error",
  {
    id: Type.Optional(Id),
    code: Type.Union(
      (Object.keys(ErrorCodes) as ErrorCode[]).map((c) => Type.Literal(c)),
      { description: "a stable error code (see the error code table)" },
    ),
    message: Type.String({ description: "for people; may change between versions" }),
    retry_after_ms: Type.Optional(
      Type.Integer({ minimum: 0, description: "with RATE_LIMITED: wait this long, then retry" }),
    ),
  },
  "A request failed; id names it when the request carried one.",
);
export const PongFrame = frame("pong", { id: Type.Optional(Id) }, "Answer to ping.");
export const MatchTicketFrame = frame(
  "match_ticket",
  {
    id: Type.Optional(Id),
    ticket_id: TicketId,
    request_id: Type.String({ description: "the request that created the ticket" }),
    state: Type.Union(
      [Type.Literal("pending"), Type.Literal("matched"), Type.Literal("cancelled")],
      {
        description:
          "pending: waiting for a partner; matched: paired, room_id is set (a matched frame follows or came before); cancelled: by the user, or their last socket closed",
      },
    ),
    room_id: Type.Optional(uuid("when matched: the match room")),
  },
  "Answer to match and match_cancel: the ticket and its state.",
);
export const MatchedFrame = frame(
  "matched",
  {
    ticket_id: TicketId,
    room_id: uuid(
      "the match room (kind match), with both as its only members; the socket is subscribed to it",
    ),
    partner: Type.Object(
      {
        id: uuid("the partner's user id"),
        username: Type.String({ description: "the partner's username" }),
        display_name: Type.String({ description: "the partner's display name" }),
      },
      { additionalProperties: false, description: "the partner's public profile" },
    ),
  },
  "You were matched: sent to every socket of the user. Delivery is at most once per socket (a gateway restart can lose it) and may repeat after a matcher crash: de-duplicate by ticket_id, and on reconnect read the ticket (GET /v1/match/{ticket_id}) or the rooms in welcome. The match ends for both when either leaves the room: each then receives user_left for both members.",
);

export const NotificationsFrame = frame(
  "notifications",
  {
    unread: Type.Integer({
      minimum: 0,
      maximum: 999,
      description: "the user's unread notifications now, at most 999 (as welcome counts them)",
    }),
  },
  "Your unread notification count changed while this socket was open: notifications were marked read on another device or tab (or this one), or one was recorded for you (you counted as offline a moment before this socket opened). Sent to every socket of yours; a count that was already sent may come again.",
);

export const ServerFrameSchemas = [
  WelcomeFrame,
  AckFrame,
  ServerMessageFrame,
  UserJoinedFrame,
  UserLeftFrame,
  ServerTypingFrame,
  ServerSeenFrame,
  ServerPresenceFrame,
  ErrorFrame,
  PongFrame,
  MatchTicketFrame,
  MatchedFrame,
  NotificationsFrame,
] as const;
export type ServerFrame = Static<(typeof ServerFrameSchemas)[number]>;
export type ServerMessage = Static<typeof ServerMessageFrame>;
