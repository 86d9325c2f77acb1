// What the gateway's core works with: the backends, its own identity and its limits.

import type { Logger } from "#contract/telemetry/log";
import type { Bus } from "../../shared/backends/bus.ts";
import type { Delivery } from "../../shared/backends/delivery.ts";
import type { MatchQueue } from "../../shared/backends/match-queue.ts";
import type { NotificationStore } from "../../shared/backends/notifications.ts";
import type { BucketSpec, RateLimiter } from "../../shared/backends/rate-limiter.ts";
import type { Registry } from "../../shared/backends/registry.ts";
import type { Store } from "../../shared/backends/store.ts";
import type { Metrics } from "../../shared/telemetry/metrics.ts";
import type { UploadConfig } from "./uploads.ts";

export interface Backends {
  readonly store: Store;
  readonly notifications: NotificationStore;
  readonly bus: Bus;
  readonly registry: Registry;
  readonly delivery: Delivery;
  readonly limiter: RateLimiter;
  readonly matchQueue: MatchQueue;
}

export interface GatewayLimits {
  /** largest WebSocket frame accepted, in bytes */
  readonly maxFrameBytes: number;
  /** bytes queued to one socket before it is dropped as a slow consumer */
  readonly maxBufferedBytes: number;
  /** how often the heartbeat sweep pings sockets; a socket silent for 2 sweeps is closed */
  readonly heartbeatMs: number;
  /** a message not acknowledged this long after it was sent is answered UNAVAILABLE */
  readonly ackTimeoutMs: number;
  /** registry entries expire after this long without a heartbeat */
  readonly registryTtlMs: number;
  /** per-user token bucket shared by WebSocket frames and REST requests */
  readonly userRate: BucketSpec;
  /** per-address bucket for register, login and refresh */
  readonly anonymousRate: BucketSpec;
  /** per-server-key bucket of the server API (/v1/server/...) */
  readonly serverRate: BucketSpec;
  /** most members in a group room */
  readonly maxRoomMembers: number;
}

export interface GatewayContext extends Backends {
  readonly gatewayId: string;
  readonly topic: string;
  readonly limits: GatewayLimits;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** the object store and upload limits; undefined: uploads are off (UPLOADS_DISABLED) */
  readonly uploads?: UploadConfig | undefined;
}
