// Builds the backends a workload runs on from its settings: the memory adapters, or clients of
// the real Kafka, Cassandra and Redis. Closing them is the caller's last shutdown step.

import type { Logger } from "#contract/telemetry/log";
import type { SharedSettings } from "../settings.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { KafkaBus } from "./bus.kafka.ts";
import { MemoryBus } from "./bus.memory.ts";
import type { Bus } from "./bus.ts";
import { BusDelivery } from "./delivery.bus.ts";
import { FailoverDelivery, type FailoverEvents } from "./delivery.failover.ts";
import { MemoryDelivery } from "./delivery.memory.ts";
import { RedisDelivery } from "./delivery.redis.ts";
import type { Delivery } from "./delivery.ts";
import { MemoryMatchQueue } from "./match-queue.memory.ts";
import { RedisMatchQueue } from "./match-queue.redis.ts";
import type { MatchQueue } from "./match-queue.ts";
import { CassandraNotificationStore } from "./notifications.cassandra.ts";
import { MemoryNotificationStore } from "./notifications.memory.ts";
import type { NotificationStore } from "./notifications.ts";
import { MemoryRateLimiter } from "./rate-limiter.memory.ts";
import { type RateLimiterOutage, RedisRateLimiter } from "./rate-limiter.redis.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { MemoryRegistry } from "./registry.memory.ts";
import { RedisRegistry } from "./registry.redis.ts";
import type { Registry, RoomRouter } from "./registry.ts";
import { CassandraStore, connectCassandraClient } from "./store.cassandra.ts";
import { MemoryStore } from "./store.memory.ts";
import type { Store } from "./store.ts";

export interface Backends {
  readonly store: Store;
  /** notifications and mutes (on the store's Cassandra client) */
  readonly notifications: NotificationStore;
  readonly bus: Bus;
  readonly registry: Registry;
  readonly delivery: Delivery;
  /**
   * The delivery readiness check: resolves saying which path delivers ("degraded: …" while
   * Redis pub/sub is down and the Kafka fallback carries deliveries), rejects when none can.
   */
  readonly checkDelivery: () => Promise<string>;
  /**
   * The registry and delivery in one step, where both are one Redis (RoomRouter): the
   * forwarder routes room messages through it while Redis pub/sub is not failing over.
   */
  readonly roomRouter?: RoomRouter;
  readonly limiter: RateLimiter;
  readonly matchQueue: MatchQueue;
  close(): Promise<void>;
}

export function memoryBackends(): Backends {
  const b = {
    store: new MemoryStore(),
    notifications: new MemoryNotificationStore(),
    bus: new MemoryBus({ partitions: 4 }),
    registry: new MemoryRegistry(),
    delivery: new MemoryDelivery(),
    limiter: new MemoryRateLimiter(),
    matchQueue: new MemoryMatchQueue(),
  };
  return {
    ...b,
    checkDelivery: async () => "in process",
    close: () => closeAll(b),
  };
}

/** Where the backends report what the workload should log and count (a rate limiter outage). */
export interface BackendTelemetry {
  readonly log: Logger;
  readonly metrics: Metrics;
}

export async function connectBackends(
  settings: SharedSettings,
  service: string,
  telemetry?: BackendTelemetry,
): Promise<Backends> {
  const s = settings.backends;
  if (s.kind === "memory") return memoryBackends();
  const namespace = settings.redisNamespace;
  const cassandra = await connectCassandraClient({
    contactPoints: s.cassandraContactPoints,
    localDataCenter: s.cassandraLocalDc,
    ...(s.cassandraUsername !== undefined && s.cassandraPassword !== undefined
      ? {
          clientOptions: {
            credentials: { username: s.cassandraUsername, password: s.cassandraPassword },
          },
        }
      : {}),
  });
  // the store shuts the client down on close; the notification store shares it
  const store = new CassandraStore(cassandra, s.cassandraKeyspace, { ownsClient: true });
  const notifications = new CassandraNotificationStore(cassandra, s.cassandraKeyspace);
  const bus = new KafkaBus(
    { brokers: s.kafkaBrokers, clientId: s.kafkaClientId },
    { consumer: { sessionTimeout: s.kafkaSessionTimeoutMs } },
  );
  // Redis pub/sub, and the Kafka deliveries topic while it does not answer (decision 0019)
  const delivery = new FailoverDelivery(
    RedisDelivery.connect(s.redisUrl, { namespace, connectionName: `${service}-delivery` }),
    new BusDelivery(bus, { topic: settings.deliveriesTopic }),
    telemetry === undefined ? {} : { events: deliveryFailover(telemetry, settings) },
  );
  const registry = RedisRegistry.connect(s.redisUrl, {
    namespace,
    connectionName: `${service}-registry`,
  });
  const b = {
    store,
    notifications,
    bus,
    registry,
    delivery,
    limiter: RedisRateLimiter.connect(s.redisUrl, {
      namespace,
      connectionName: `${service}-limiter`,
      ...(telemetry === undefined ? {} : { outage: limiterOutage(telemetry) }),
    }),
    matchQueue: RedisMatchQueue.connect(s.redisUrl, {
      namespace,
      connectionName: `${service}-match-queue`,
    }),
  };
  return {
    ...b,
    checkDelivery: () => delivery.check(),
    // the registry's Redis publishes on the channels the delivery's Redis listens to
    roomRouter: {
      usable: () => delivery.primaryClear,
      routeRooms: (routes) => registry.routeRooms(routes),
    },
    close: () => closeAll(b),
  };
}

/** Logs an outage of Redis pub/sub once when it starts and once when it ends, and counts it. */
export function deliveryFailover(
  { log, metrics }: BackendTelemetry,
  settings: Pick<SharedSettings, "deliveriesTopic">,
): FailoverEvents {
  return {
    down(err) {
      metrics.deliveryOutages.inc();
      log.warn(
        { err, topic: settings.deliveriesTopic },
        "Redis pub/sub does not answer: delivering through the Kafka deliveries topic until it does",
      );
    },
    up() {
      log.info("Redis pub/sub answers again: delivering through it (and Kafka for a few seconds)");
    },
    fellBack(count) {
      metrics.deliveryFallbacks.inc(count);
    },
  };
}

/** Logs an outage of the Redis rate limiter once when it starts and once when it ends. */
export function limiterOutage({ log, metrics }: BackendTelemetry): RateLimiterOutage {
  return {
    down(err) {
      metrics.rateLimiterOutages.inc();
      log.warn(
        { err },
        "Redis does not answer the rate limiter: limiting per process until it does (each gateway allows the full rate)",
      );
    },
    up() {
      log.info("Redis answers the rate limiter again: limits are shared again");
    },
    local() {
      metrics.rateLimiterLocal.inc();
    },
  };
}

async function closeAll(b: Omit<Backends, "close" | "checkDelivery">): Promise<void> {
  const results = await Promise.allSettled([
    b.bus.close(),
    b.delivery.close(),
    b.registry.close(),
    b.limiter.close(),
    b.matchQueue.close(),
    b.notifications.close().then(() => b.store.close()),
  ]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}
