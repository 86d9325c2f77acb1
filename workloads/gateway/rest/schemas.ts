// REST request and response schemas (TypeBox → JSON Schema): fastify validates requests with
// them and the OpenAPI document at /openapi.json is generated from them.
import { type Static, Type } from "@sinclair/typebox";
import { Content, ReplyTo, SERVER_SENDER_PATTERN, SenderId } from "../../shared/protocol/frames.ts";
import { HANDOFF_CODE_PATTERN } from "../auth/tokens.ts";

export const Uuid = Type.String({ format: "uuid" });
/** What anyone signed in may see of a user: no email, no creation time. */
const PublicUserFields = { id: Uuid, username: Type.String(), display_name: Type.String() };
export const PublicUserBody = Type.Object(PublicUserFields);
const UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
/** at most this many user ids in one lookup */
export const MAX_USER_LOOKUP = 100;
export const UsersQuery = Type.Object(
  {
    ids: Type.String({
      pattern: `^${UUID_PATTERN}(,${UUID_PATTERN}){0,${MAX_USER_LOOKUP - 1}}$`,
      description: `user ids, comma-separated: 1 to ${MAX_USER_LOOKUP}`,
    }),
  },
  { additionalProperties: false },
);
export type UsersQueryT = Static<typeof UsersQuery>;
const Username = Type.String({ minLength: 3, maxLength: 32, pattern: "^[a-zA-Z0-9_.-]+$" });
const Password = Type.String({ minLength: 8, maxLength: 256 });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "stable machine-readable code, e.g. ROOM_NOT_FOUND" }),
      message: Type.String(),
      retry_after_ms: Type.Optional(Type.Integer()),
    }),
  },
  { $id: "Error" },
);

export const RegisterBody = Type.Object(
  {
    username: Username,
    password: Password,
    display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    email: Type.Optional(
      Type.String({
        format: "email",
        maxLength: 254,
        description:
          "kept lower-cased, and not verified: single sign-on never links to this account by it; to sign in to it with a provider, link the provider from inside its session (POST /v1/auth/oidc/link; docs/decisions/0023)",
      }),
    ),
  },
  { additionalProperties: false },
);
export const LoginBody = Type.Object(
  { username: Type.String({ maxLength: 64 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);
export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
export const LogoutBody = Type.Object(
  {
    refresh_token: Type.Optional(
      Type.String({ maxLength: 4096, description: "also end this refresh token's session" }),
    ),
  },
  { additionalProperties: false },
);

export const UserBody = Type.Object(
  {
    id: Uuid,
    username: Type.String(),
    display_name: Type.String(),
    created_at: Type.String({ format: "date-time" }),
    email: Type.Optional(
      Type.String({ description: "your own email, on /v1/me and sign-in only" }),
    ),
  },
  { $id: "User" },
);
export const TokenPairBody = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal("Bearer"),
    expires_in: Type.Integer({ description: "access token lifetime in seconds" }),
  },
  { $id: "TokenPair" },
);
export const AuthBody = Type.Object({ user: UserBody, tokens: TokenPairBody });
export const SignOnInfoBody = Type.Object(
  {
    enabled: Type.Boolean({ description: "whether GET /v1/auth/oidc/start leads anywhere" }),
    provider_name: Type.Optional(
      Type.String({ description: 'for the button: "Sign in with <provider_name>"' }),
    ),
  },
  { $id: "SignOnInfo" },
);
export const SignOnLinkBody = Type.Object(
  {
    authorization_url: Type.String({
      format: "uri",
      description:
        "send the browser here (the provider's login page); it comes back to the web client with `#sso_linked=<provider name>` or `#sso_error=...`",
    }),
  },
  { $id: "SignOnLink" },
);
export const SignOnLogoutBody = Type.Object(
  {
    end_session_url: Type.Optional(
      Type.String({
        format: "uri",
        description:
          "present when the session came from a single sign-on in this browser and provider logout is on: send the browser here to end the provider's session too; it comes back to the post-logout redirect (the web client)",
      }),
    ),
  },
  { $id: "SignOnLogout" },
);
export const BackChannelLogoutBody = Type.Object(
  {
    logout_token: Type.String({
      minLength: 1,
      maxLength: 16_384,
      description: "the provider's logout token (a signed JWT)",
    }),
  },
  { additionalProperties: false },
);
export type BackChannelLogoutBodyT = Static<typeof BackChannelLogoutBody>;
export const SignOnExchangeBody = Type.Object(
  {
    code: Type.String({
      pattern: HANDOFF_CODE_PATTERN,
      description: "the sso_code the callback put in the web client's URL fragment",
    }),
  },
  { additionalProperties: false },
);

const RoomKind = Type.Union([
  Type.Literal("direct"),
  Type.Literal("group"),
  Type.Literal("channel"),
  Type.Literal("match"),
]);
export const RoomBody = Type.Object(
  {
    id: Uuid,
    kind: RoomKind,
    name: Type.Union([Type.String(), Type.Null()]),
    created_by: Type.String({
      description: "the creating user's id, or `system` for a room the server API created",
    }),
    created_at: Type.String({ format: "date-time" }),
  },
  { $id: "Room" },
);
export const RoomSummaryBody = Type.Object({
  room: RoomBody,
  last_seq: Type.Integer(),
  last_activity: Type.String({ format: "date-time" }),
  read_seq: Type.Integer(),
  unread: Type.Integer(),
});
export const CreateRoomBody = Type.Union([
  Type.Object(
    {
      kind: Type.Union([Type.Literal("group"), Type.Literal("channel")]),
      name: Type.String({ minLength: 1, maxLength: 100 }),
      members: Type.Optional(Type.Array(Uuid, { maxItems: 1000, uniqueItems: true })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal("direct"), user_id: Uuid }, { additionalProperties: false }),
]);
export const RoomParams = Type.Object({ room_id: Uuid });
export const AddMemberBody = Type.Object({ user_id: Uuid }, { additionalProperties: false });
export const MemberBody = Type.Object({
  user_id: Uuid,
  role: Type.Union([Type.Literal("owner"), Type.Literal("member")]),
  joined_at: Type.String({ format: "date-time" }),
  online: Type.Boolean(),
});
/** the page size when a request gives no `limit` */
export const DEFAULT_PAGE = 50;
const Limit = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE, description: "page size" }),
);
export const ChannelsQuery = Type.Object({ limit: Limit }, { additionalProperties: false });
export const HistoryQuery = Type.Object(
  {
    limit: Limit,
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    after: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export const MessageBody = Type.Object(
  {
    room_id: Uuid,
    seq: Type.Integer(),
    message_id: Uuid,
    sender_id: SenderId,
    client_msg_id: Type.String(),
    msg_type: Type.String(),
    content: Type.Record(Type.String(), Type.Unknown()),
    created_at: Type.String({ format: "date-time" }),
    reply_to: Type.Optional(
      Type.Integer({
        description: "present on a reply: the seq of the earlier message of the room it answers",
      }),
    ),
  },
  { $id: "Message" },
);
export const HistoryBody = Type.Object({
  messages: Type.Array(MessageBody),
  next_before: Type.Optional(
    Type.Integer({ description: "pass as `before` for the previous page" }),
  ),
  next_after: Type.Optional(Type.Integer({ description: "pass as `after` for the next page" })),
});
export const ReadBody = Type.Object(
  { seq: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

const Tag = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: "^[^,]+$",
  description: "an interest; compared case-insensitively",
});
export const MatchBody = Type.Object(
  {
    request_id: Type.String({
      minLength: 1,
      maxLength: 64,
      description: "idempotency key chosen by the client: a retry with it returns the same ticket",
    }),
    tags: Type.Optional(
      Type.Array(Tag, {
        maxItems: 10,
        uniqueItems: true,
        description:
          "interests; a partner first shares at least one (none: anyone), then anyone after the fallback wait",
      }),
    ),
    language: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 16,
        description:
          "a language tag such as en or pt-br; a partner first speaks it too (none: anyone), then anyone after the fallback wait",
      }),
    ),
  },
  { additionalProperties: false },
);
export const TicketParams = Type.Object({ ticket_id: Uuid });
export const TicketBody = Type.Object(
  {
    id: Uuid,
    request_id: Type.String(),
    state: Type.Union(
      [Type.Literal("pending"), Type.Literal("matched"), Type.Literal("cancelled")],
      {
        description:
          "pending: waiting; matched: room_id and partner are set; cancelled: by the user, or they disconnected",
      },
    ),
    tags: Type.Array(Type.String()),
    language: Type.Union([Type.String(), Type.Null()]),
    requested_at: Type.String({ format: "date-time" }),
    room_id: Type.Optional(Type.String({ format: "uuid", description: "the match room" })),
    matched_at: Type.Optional(Type.String({ format: "date-time" })),
    partner: Type.Optional(
      Type.Object(PublicUserFields, {
        description: "the partner's public profile",
      }),
    ),
  },
  { $id: "MatchTicket" },
);

// ---- notifications (/v1/notifications, /v1/mutes, /v1/rooms/{id}/mute) ----

const Cursor = Type.String({
  maxLength: 64,
  pattern: "^[0-9]{1,15}_[0-9a-f-]{36}$",
  description: "opaque: a notification's cursor, as the API gave it",
});
export const NotificationBody = Type.Object(
  {
    id: { ...Uuid, description: "the message's id: one notification per user and message" },
    kind: Type.Union([Type.Literal("direct"), Type.Literal("mention"), Type.Literal("reply")], {
      description:
        "direct: a message in a direct room; mention: your @username in another room; reply: an answer to one of your messages in another room (a reply that also mentions you is a reply)",
    }),
    room_id: Uuid,
    sender_id: Type.String(),
    excerpt: Type.String({ description: "the message text's first 140 characters" }),
    created_at: Type.String({ format: "date-time", description: "when the message was sent" }),
    read: Type.Boolean(),
    cursor: { ...Cursor, description: "pass as before (next page) or up_to (mark read)" },
  },
  { additionalProperties: false },
);
export const NotificationsQuery = Type.Object(
  {
    limit: Limit,
    before: Type.Optional({ ...Cursor, description: "older than this notification's cursor" }),
  },
  { additionalProperties: false },
);
export const NotificationsPage = Type.Object({
  notifications: Type.Array(NotificationBody),
  unread: Type.Integer({ minimum: 0, description: "unread notifications, at most 999" }),
  next_before: Type.Optional({ ...Cursor, description: "absent on the last page" }),
});
export const MarkAllReadBody = Type.Object(
  {
    up_to: Type.Optional({
      ...Cursor,
      description: "this notification and every older one; absent: all of them",
    }),
  },
  { additionalProperties: false },
);
export const NotificationParams = Type.Object({ message_id: Uuid });
export const UnreadBody = Type.Object({ unread: Type.Integer({ minimum: 0 }) });
export const MutesBody = Type.Object({
  room_ids: Type.Array(Uuid, { description: "the rooms you muted" }),
});
export type NotificationsQueryT = Static<typeof NotificationsQuery>;

// ---- the server API (/v1/server/...) ----

const MsgType = Type.Union(
  [Type.Literal("text"), Type.Literal("image"), Type.Literal("file"), Type.Literal("system")],
  { default: "text", description: "text (the default), image, file or system" },
);
export const ServerPostBody = Type.Object(
  {
    idempotency_key: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        "chosen by the backend, one per message: a retry with the same key (same sender, same room) creates nothing new and answers the same message; stored as the message's client_msg_id",
    }),
    sender_id: Type.String({
      pattern: SERVER_SENDER_PATTERN,
      description:
        "`system`, or `bot:` and a name of 1-32 characters a-z, 0-9, _ and - (first a letter or digit); members see it as the message's sender_id",
    }),
    msg_type: Type.Optional(MsgType),
    content: Content,
    reply_to: Type.Optional(ReplyTo),
  },
  { additionalProperties: false },
);
export const ServerCreateRoomBody = Type.Object(
  {
    kind: Type.Union([Type.Literal("group"), Type.Literal("channel")]),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    owner_id: Type.Optional({ ...Uuid, description: "a user who becomes the room's owner" }),
    members: Type.Optional(
      Type.Array(Uuid, { maxItems: 1000, uniqueItems: true, description: "users to add" }),
    ),
  },
  { additionalProperties: false },
);
export const MembershipParams = Type.Object({ room_id: Uuid, user_id: Uuid });
export const MembershipBody = Type.Object({
  room_id: Uuid,
  user_id: Uuid,
  changed: Type.Boolean({
    description: "false: the user was a member already (PUT) or was not one (DELETE)",
  }),
});
export const UserParams = Type.Object({ user_id: Uuid });
export const DisconnectBody = Type.Object(
  {
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 120,
        pattern: "^[\\x20-\\x7e]+$",
        description: "printable ASCII, sent as the close frame's reason",
      }),
    ),
  },
  { additionalProperties: false },
);
export const DisconnectedBody = Type.Object({
  user_id: Uuid,
  gateways: Type.Integer({
    description: "gateway pods where the user was online, each told to close their sockets",
  }),
});

export type ServerPostBodyT = Static<typeof ServerPostBody>;
export type ServerCreateRoomBodyT = Static<typeof ServerCreateRoomBody>;
export type MatchBodyT = Static<typeof MatchBody>;
export type RegisterBodyT = Static<typeof RegisterBody>;
export type LoginBodyT = Static<typeof LoginBody>;
export type SignOnExchangeBodyT = Static<typeof SignOnExchangeBody>;
export type RefreshBodyT = Static<typeof RefreshBody>;
export type LogoutBodyT = Static<typeof LogoutBody>;
export type CreateRoomBodyT = Static<typeof CreateRoomBody>;
export type HistoryQueryT = Static<typeof HistoryQuery>;
export type ChannelsQueryT = Static<typeof ChannelsQuery>;

export const UploadRequestBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 255,
      description: "the file's name, for display",
    }),
    size: Type.Integer({
      minimum: 1,
      description:
        "the file's size in bytes: the store refuses a larger body (at most UPLOAD_MAX_BYTES)",
    }),
    content_type: Type.String({
      minLength: 3,
      maxLength: 127,
      description: "the file's media type: one of UPLOAD_CONTENT_TYPES; the store refuses another",
    }),
  },
  { additionalProperties: false },
);
export const UploadGrantBody = Type.Object(
  {
    key: Type.String({ description: "the object's key: name it in the image or file message" }),
    object_id: Uuid,
    url: Type.String({ description: "POST multipart/form-data here" }),
    fields: Type.Record(Type.String(), Type.String(), {
      description: "form fields to send, in this order, before the file (a part named `file`)",
    }),
    expires_at: Type.String({ format: "date-time" }),
    max_bytes: Type.Integer(),
  },
  { $id: "UploadGrant" },
);
export const ObjectParams = Type.Object({ room_id: Uuid, object_id: Uuid });
export const DownloadGrantBody = Type.Object(
  {
    key: Type.String(),
    url: Type.String({ description: "GET the object here until expires_at" }),
    expires_at: Type.String({ format: "date-time" }),
  },
  { $id: "DownloadGrant" },
);
