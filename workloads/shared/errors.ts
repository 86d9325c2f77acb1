// Every error a client can see: a stable code, the HTTP status it maps to, whether a retry can
// succeed, and what it means (published in docs/protocol.md). Codes are never reused once retired.

export const ErrorCodes = {
  BAD_REQUEST: {
    status: 400,
    retriable: false,
    description:
      "The request is well-formed but not acceptable (wrong state, e.g. a frame before hello; content the message type needs is missing).",
  },
  INVALID_FRAME: {
    status: 400,
    retriable: false,
    description:
      "A WebSocket frame is not JSON, not an object, of unknown type, or does not match its frame's schema.",
  },
  FRAME_TOO_LARGE: {
    status: 413,
    retriable: false,
    description:
      "A REST body exceeded the size limit (on the WebSocket, an oversized frame closes the socket with 1009).",
  },
  UNAUTHENTICATED: {
    status: 401,
    retriable: false,
    description: "No valid access token was sent.",
  },
  TOKEN_EXPIRED: {
    status: 401,
    retriable: false,
    description: "The access or refresh token has expired: refresh, or log in again.",
  },
  INVALID_CREDENTIALS: {
    status: 401,
    retriable: false,
    description: "Wrong username or password.",
  },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    retriable: false,
    description: "A refresh token was used twice: the session is revoked; log in again.",
  },
  SESSION_REVOKED: {
    status: 401,
    retriable: false,
    description:
      "The access token's session was ended (logout, or a refresh token used twice): log in again.",
  },
  FORBIDDEN: {
    status: 403,
    retriable: false,
    description:
      "The action is not allowed (e.g. joining a group uninvited, leaving a direct room, sending a system message).",
  },
  NOT_A_MEMBER: {
    status: 403,
    retriable: false,
    description: "Only members read or write this room.",
  },
  NOT_FOUND: {
    status: 404,
    retriable: false,
    description: "No such route or resource.",
  },
  ROOM_NOT_FOUND: {
    status: 404,
    retriable: false,
    description: "No such room.",
  },
  USER_NOT_FOUND: {
    status: 404,
    retriable: false,
    description: "No such user.",
  },
  USERNAME_TAKEN: {
    status: 409,
    retriable: false,
    description: "The username is registered already.",
  },
  ALREADY_MEMBER: {
    status: 409,
    retriable: false,
    description:
      "The user to add (POST /v1/rooms/{id}/members) is a member of the room already; joining a room you are in is not an error.",
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    retriable: false,
    description:
      "The server API's idempotency_key was used before, by the same sender in the same room, for another message (other msg_type, content or reply_to).",
  },
  REPLY_TO_NOT_FOUND: {
    status: 400,
    retriable: false,
    description:
      "A message's reply_to names no message of its room: it must be the seq of an earlier message of the same room (1 to the room's last seq).",
  },
  NOTIFICATION_NOT_FOUND: {
    status: 404,
    retriable: false,
    description: "You have no notification of this message (it never was one, or it expired).",
  },
  MATCH_TICKET_NOT_FOUND: {
    status: 404,
    retriable: false,
    description: "No such match ticket, or it is not yours.",
  },
  MATCH_ALREADY_MATCHED: {
    status: 409,
    retriable: false,
    description:
      "The match ticket is matched already and cannot be cancelled: leave the match room instead.",
  },
  SSO_NOT_CONFIGURED: {
    status: 404,
    retriable: false,
    description:
      "Single sign-on is not set up on this gateway (no OIDC_ISSUER_URL): sign in with a password.",
  },
  SSO_FAILED: {
    status: 400,
    retriable: false,
    description:
      "A single sign-on was refused: no flow cookie, its state, nonce or PKCE verifier did not match the provider's answer, the provider sent an error, or its ID token did not verify. The message says which; start again.",
  },
  SSO_IDENTITY_LINKED: {
    status: 409,
    retriable: false,
    description:
      "Linking a provider's account to yours was refused: that account at the provider already signs in to another Switchboard account.",
  },
  SSO_CODE_INVALID: {
    status: 401,
    retriable: false,
    description:
      "The single sign-on's one-time code is unknown, expired or used already (a second use also ends the session it started): sign in again.",
  },
  UPLOADS_DISABLED: {
    status: 503,
    retriable: false,
    description:
      "This cluster has no object store: upload and download URLs, and image or file messages that name an uploaded object, are off.",
  },
  UPLOAD_TOO_LARGE: {
    status: 413,
    retriable: false,
    description: "The upload is larger than the cluster allows (UPLOAD_MAX_BYTES).",
  },
  UPLOAD_TYPE_NOT_ALLOWED: {
    status: 415,
    retriable: false,
    description: "The upload's media type is not one the cluster allows (UPLOAD_CONTENT_TYPES).",
  },
  OBJECT_NOT_IN_ROOM: {
    status: 403,
    retriable: false,
    description:
      "The object key a message or download names is not one of this room's uploads (keys are <cluster>/<room id>/<object id>).",
  },
  OBJECT_NOT_FOUND: {
    status: 404,
    retriable: false,
    description:
      "No object is stored under the key: the upload never happened, failed, or was refused by the store.",
  },
  RATE_LIMITED: {
    status: 429,
    retriable: true,
    description:
      "The user's (or, before login, the address's) token bucket is empty: retry after retry_after_ms.",
  },
  UNAVAILABLE: {
    status: 503,
    retriable: true,
    description: "A backend did not answer in time: retry (a message with the same client_msg_id).",
  },
  INTERNAL: {
    status: 500,
    retriable: true,
    description: "An unexpected server error; retrying may succeed.",
  },
} as const satisfies Record<string, { status: number; retriable: boolean; description: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** retry_after_ms of an UNAVAILABLE answer: a backend that timed out is given a second */
export const UNAVAILABLE_RETRY_AFTER_MS = 1_000;

export class ChatError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryAfterMs?: number; details?: unknown } = {},
  ) {
    super(message);
    this.name = "ChatError";
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
    this.details = opts.details;
  }

  get status(): number {
    return ErrorCodes[this.code].status;
  }
}

/** cassandra-driver's and ioredis's errors for a backend that did not answer in time or at all */
const UNAVAILABLE_ERROR_NAMES = new Set([
  "NoHostAvailableError",
  "OperationTimedOutError",
  "BusyConnectionError",
  "MaxRetriesPerRequestError",
]);
/** Cassandra's own "not now" answers: unavailable, overloaded, is bootstrapping, write/read timeout */
const UNAVAILABLE_CASSANDRA_CODES = new Set([0x1000, 0x1001, 0x1002, 0x1100, 0x1200]);
const UNAVAILABLE_MESSAGES = /^(Command timed out|Connection is closed\.|Stream isn't writeable)/;

/** True when the error says a backend is slow or away, not that the request or our code is wrong. */
export function isBackendUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNAVAILABLE_ERROR_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (err.name === "ResponseError" && typeof code === "number") {
    return UNAVAILABLE_CASSANDRA_CODES.has(code);
  }
  return UNAVAILABLE_MESSAGES.test(err.message);
}

/**
 * Any thrown value as a ChatError: ours pass through; a backend that timed out or is away is
 * UNAVAILABLE with retry_after_ms (nothing was done that a retry with the same ids would
 * repeat); anything else is INTERNAL.
 */
export function asChatError(err: unknown): ChatError {
  if (err instanceof ChatError) return err;
  if (isBackendUnavailable(err)) {
    return new ChatError("UNAVAILABLE", "a backend did not answer in time; retry", {
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  return new ChatError("INTERNAL", "internal error");
}
