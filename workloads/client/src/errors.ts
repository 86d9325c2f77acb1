// Errors the client library raises: a gateway error code (from an error frame or a REST error
// body) or one of the library's own, each marked retriable or not.
import { type ErrorCode, ErrorCodes } from "./protocol.ts";

/** the library's own codes, beside the gateway's */
export type LocalErrorCode =
  | "TIMEOUT" // no answer in time
  | "DISCONNECTED" // the socket closed before the answer, and will not reconnect
  | "CLOSED" // the client was closed
  | "NETWORK"; // a REST request did not reach the gateway

export class ClientError extends Error {
  readonly code: ErrorCode | LocalErrorCode;
  readonly retryAfterMs: number | undefined;
  /** HTTP status of a REST answer */
  readonly status: number | undefined;

  constructor(
    code: ErrorCode | LocalErrorCode,
    message: string,
    o: { retryAfterMs?: number | undefined; status?: number } = {},
  ) {
    super(message);
    this.name = "ClientError";
    this.code = code;
    this.retryAfterMs = o.retryAfterMs;
    this.status = o.status;
  }

  /** whether the same request may succeed if sent again */
  get retriable(): boolean {
    if (this.code in ErrorCodes) return ErrorCodes[this.code as ErrorCode].retriable;
    return this.code === "TIMEOUT" || this.code === "NETWORK";
  }
}
