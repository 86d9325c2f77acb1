// Every error a client can see: a stable code, the HTTP status it maps to, and whether a
// retry can succeed. Codes are never reused once retired.

export const ErrorCodes = {
  BAD_REQUEST: { status: 400, retriable: false },
  INVALID_FRAME: { status: 400, retriable: false },
  FRAME_TOO_LARGE: { status: 413, retriable: false },
  UNAUTHENTICATED: { status: 401, retriable: false },
  TOKEN_EXPIRED: { status: 401, retriable: false },
  INVALID_CREDENTIALS: { status: 401, retriable: false },
  REFRESH_TOKEN_REUSED: { status: 401, retriable: false },
  FORBIDDEN: { status: 403, retriable: false },
  NOT_A_MEMBER: { status: 403, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  ROOM_NOT_FOUND: { status: 404, retriable: false },
  USER_NOT_FOUND: { status: 404, retriable: false },
  USERNAME_TAKEN: { status: 409, retriable: false },
  ALREADY_MEMBER: { status: 409, retriable: false },
  MATCH_TICKET_NOT_FOUND: { status: 404, retriable: false },
  MATCH_ALREADY_MATCHED: { status: 409, retriable: false },
  RATE_LIMITED: { status: 429, retriable: true },
  UNAVAILABLE: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: true },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

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

/** Any thrown value as a ChatError: ours pass through, anything else is INTERNAL. */
export function asChatError(err: unknown): ChatError {
  if (err instanceof ChatError) return err;
  return new ChatError("INTERNAL", "internal error");
}
