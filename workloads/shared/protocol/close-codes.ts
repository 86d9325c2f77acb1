// WebSocket close codes, in one place (published in docs/protocol.md and the AsyncAPI document).
// Clients reconnect (and resume) on the codes marked so.

export const CloseCodes = {
  NORMAL: { code: 1000, reconnect: false, description: "Normal close asked by the client." },
  INVALID_TEXT: {
    code: 1007,
    reconnect: false,
    description: "A text frame was not valid UTF-8 (closed by the WebSocket layer).",
  },
  FRAME_TOO_LARGE: {
    code: 1009,
    reconnect: false,
    description: "A frame exceeded the maximum size (welcome.max_frame_bytes).",
  },
  SHUTDOWN: {
    code: 4001,
    reconnect: true,
    description:
      "The gateway is shutting down (or lost its view of a room): reconnect to any gateway and resume.",
  },
  IDLE_TIMEOUT: {
    code: 4002,
    reconnect: true,
    description: "The client did not answer the server's ping in time.",
  },
  SLOW_CONSUMER: {
    code: 4003,
    reconnect: true,
    description: "The client read too slowly: its unsent frames exceeded the buffer limit.",
  },
  AUTH_EXPIRED: {
    code: 4004,
    reconnect: true,
    description:
      "The access token expired or became invalid mid-session: refresh it, then reconnect.",
  },
  SESSION_REVOKED: {
    code: 4005,
    reconnect: false,
    description: "The user logged out or the session was revoked: log in again.",
  },
  INVALID_FRAMES: {
    code: 4006,
    reconnect: false,
    description:
      "The client kept sending invalid frames (beyond the invalid-frame budget in Limits): fix the client before reconnecting.",
  },
  DISCONNECTED: {
    code: 4007,
    reconnect: false,
    description:
      "A backend disconnected the user through the server API (POST /v1/server/users/{user_id}/disconnect): do not reconnect on your own; the user's tokens stay valid, so reconnect when the user acts.",
  },
} as const satisfies Record<string, { code: number; reconnect: boolean; description: string }>;

export type CloseReason = keyof typeof CloseCodes;
