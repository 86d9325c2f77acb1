// WebSocket close codes, in one place. Clients reconnect (and resume) on the codes marked so.

export const CloseCodes = {
  /** normal close asked by the client */
  NORMAL: { code: 1000, reconnect: false },
  /** the gateway is shutting down: reconnect (to any gateway) and resume */
  SHUTDOWN: { code: 4001, reconnect: true },
  /** the client did not answer pings in time */
  IDLE_TIMEOUT: { code: 4002, reconnect: true },
  /** the client read too slowly: its unsent frames exceeded the limit */
  SLOW_CONSUMER: { code: 4003, reconnect: true },
  /** the access token expired or was invalid mid-session: refresh, then reconnect */
  AUTH_EXPIRED: { code: 4004, reconnect: true },
  /** a frame exceeded the maximum size */
  FRAME_TOO_LARGE: { code: 1009, reconnect: false },
  /** the user was logged out or the session revoked */
  SESSION_REVOKED: { code: 4005, reconnect: false },
} as const;

export type CloseReason = keyof typeof CloseCodes;
