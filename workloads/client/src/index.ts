// @switchboard/client: a typed client for the Switchboard gateway, for browsers and Node 24.
export { Backoff, type BackoffOptions } from "./backoff.ts";
export {
  ChatClient,
  type ChatClientOptions,
  type ChatEvents,
  type ConnectionState,
  type Sent,
  type StateChange,
} from "./client.ts";
export { ClientError, type LocalErrorCode } from "./errors.ts";
export * from "./protocol.ts";
export * from "./rest.ts";
