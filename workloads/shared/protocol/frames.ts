// The WebSocket protocol: one TypeBox schema per frame. These schemas are the source of truth:
// the TypeScript types below, the JSON Schema in docs/protocol.schema.json, the AsyncAPI
// document and the frame tables of docs/protocol.md are derived from them
// (workloads/gateway/ws/protocol-docs.ts, written by hack/gen-protocol.ts).
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { type ErrorCode, ErrorCodes } from "../errors.ts";

const Id = Type.String({ minLength: 1, maxLength: 64, description: "client request id, echoed" });
/** a lowercase UUID */
const Uuid = Type.String({
  pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
});
const Seq = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "per-room sequence number: 1, 2, 3, ... without gaps",
});
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
    url: Type.Optional(Type.String({ maxLength: 2048, format: "uri" })),
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
  },
  "Send a message to a room (room_id) or directly to a user (to_user_id); exactly one of them.",
);
export const TypingFrame = frame(
  "typing",
  { room_id: Uuid, state: Type.Union([Type.Literal("start"), Type.Literal("stop")]) },
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
const Tag = Type.String({ minLength: 1, maxLength: 32, pattern: "^[^,]+$" });
export const MatchFrame = frame(
  "match",
  {
    id: Type.Optional(Id),
    request_id: Type.String({
      minLength: 1,
      maxLength: 64,
      description: "idempotency key: a retry returns the same ticket",
    }),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 10, uniqueItems: true })),
    language: Type.Optional(Type.String({ minLength: 2, maxLength: 16 })),
  },
  "Asks to be matched with a random stranger (by shared tag or language first, anyone after a wait).",
);
export const MatchCancelFrame = frame(
  "match_cancel",
  { id: Type.Optional(Id), ticket_id: Type.Optional(Uuid) },
  "Cancels the pending match ticket (this one, or whichever is pending).",
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
  sender_id: Uuid,
  client_msg_id: ClientMsgId,
  msg_type: MsgType,
  content: Content,
  created_at: Type.String({ format: "date-time" }),
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
  "A user left the room.",
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
    ticket_id: Uuid,
    request_id: Type.String(),
    state: Type.Union([
      Type.Literal("pending"),
      Type.Literal("matched"),
      Type.Literal("cancelled"),
    ]),
    room_id: Type.Optional(Uuid),
  },
  "Answer to match and match_cancel: the ticket and its state.",
);
export const MatchedFrame = frame(
  "matched",
  {
    ticket_id: Uuid,
    room_id: Uuid,
    partner: Type.Object(
      { id: Uuid, username: Type.String(), display_name: Type.String() },
      { additionalProperties: false },
    ),
  },
  "You were matched: the match room (already joined) and your partner's public profile.",
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
] as const;
export type ServerFrame = Static<(typeof ServerFrameSchemas)[number]>;
export type ServerMessage = Static<typeof ServerMessageFrame>;
