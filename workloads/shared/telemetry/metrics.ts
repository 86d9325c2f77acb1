// Prometheus metrics of the workloads. Every name is defined here, once, so dashboards, docs
// and code agree. One registry per process (the embedded default shares it between workloads).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

const waitBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    readinessCheck: new Gauge({
      name: "switchboard_readiness_check",
      help: "1 while the named readiness check passes (a backend the workload needs answers), else 0",
      labelNames: ["check"] as const,
      registers: r,
    }),
    connections: new Gauge({
      name: "switchboard_gateway_connections",
      help: "Open WebSocket connections on this gateway",
      registers: r,
    }),
    connectionsTotal: new Counter({
      name: "switchboard_gateway_connections_total",
      help: "WebSocket connections accepted",
      registers: r,
    }),
    disconnects: new Counter({
      name: "switchboard_gateway_disconnects_total",
      help: "WebSocket connections closed, by reason",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    framesIn: new Counter({
      name: "switchboard_gateway_frames_in_total",
      help: "Client frames received, by type",
      labelNames: ["type"] as const,
      registers: r,
    }),
    messagesIn: new Counter({
      name: "switchboard_gateway_messages_in_total",
      help: "Chat messages accepted from clients and produced to the bus",
      registers: r,
    }),
    uploadUrls: new Counter({
      name: "switchboard_gateway_object_urls_total",
      help: "Presigned object store URLs handed out, by kind (upload, download)",
      labelNames: ["kind"] as const,
      registers: r,
    }),
    messagesOut: new Counter({
      name: "switchboard_gateway_messages_out_total",
      help: "Chat message frames written to client sockets",
      registers: r,
    }),
    deliveryLatency: new Histogram({
      name: "switchboard_delivery_latency_seconds",
      help: "From the gateway receiving a message to a gateway writing it to a receiver's socket",
      buckets: latencyBuckets,
      registers: r,
    }),
    errors: new Counter({
      name: "switchboard_errors_total",
      help: "Errors answered to clients, by code",
      labelNames: ["code"] as const,
      registers: r,
    }),
    busProduce: new Histogram({
      name: "switchboard_bus_produce_seconds",
      help: "Time for the bus to acknowledge a produce (acks = all)",
      buckets: latencyBuckets,
      registers: r,
    }),
    busConsumed: new Counter({
      name: "switchboard_forwarder_events_total",
      help: "Bus events handled by the forwarder, by kind and outcome",
      labelNames: ["kind", "outcome"] as const,
      registers: r,
    }),
    notifierEvents: new Counter({
      name: "switchboard_notifier_events_total",
      help: "Bus events the notifier handled, by kind (message, or other: only messages can notify)",
      labelNames: ["kind"] as const,
      registers: r,
    }),
    notifications: new Counter({
      name: "switchboard_notifier_notifications_total",
      help: "Notifications the notifier recorded (a replayed one again), by kind",
      labelNames: ["kind"] as const,
      registers: r,
    }),
    notifierPresenceFallbacks: new Counter({
      name: "switchboard_notifier_presence_fallbacks_total",
      help: "Messages whose addressed members all counted as offline because the registry did not answer",
      registers: r,
    }),
    notifierRetries: new Counter({
      name: "switchboard_notifier_retries_total",
      help: "Store calls the notifier tried again after a failure, by call",
      labelNames: ["call"] as const,
      registers: r,
    }),
    notifierBatchSeconds: new Histogram({
      name: "switchboard_notifier_batch_seconds",
      help: "Time from a batch handed to the notifier until its notifications are stored",
      buckets: latencyBuckets,
      registers: r,
    }),
    registryLosses: new Counter({
      name: "switchboard_gateway_registry_losses_total",
      help: "Times this gateway found the registry's epoch changed (its data lost) and registered again",
      registers: r,
    }),
    conservativeRoutes: new Counter({
      name: "switchboard_forwarder_conservative_routes_total",
      help: "Events also sent to every live gateway because the registry's epoch was young",
      registers: r,
    }),
    seqRegressions: new Counter({
      name: "switchboard_forwarder_seq_regressions_total",
      help: "Times a room's stored last seq was found below a seq this forwarder had stored: the store lost acknowledged messages",
      registers: r,
    }),
    forwarderRetries: new Counter({
      name: "switchboard_forwarder_retries_total",
      help: "Store or routing calls the forwarder tried again after a failure, by call",
      labelNames: ["call"] as const,
      registers: r,
    }),
    consumerLag: new Gauge({
      name: "switchboard_forwarder_consumer_lag",
      help: "Records of each partition this forwarder holds after its committed offset (Kafka's consumer lag), by partition",
      labelNames: ["partition"] as const,
      registers: r,
    }),
    unstoredMessages: new Gauge({
      name: "switchboard_forwarder_unstored_messages",
      help: "Messages sequenced and routed (acknowledged) whose store write has not landed yet",
      registers: r,
    }),
    batchSeconds: new Histogram({
      name: "switchboard_forwarder_batch_seconds",
      help: "Time from a batch handed to the forwarder until all of it is stored (it is routed before)",
      buckets: latencyBuckets,
      registers: r,
    }),
    storeSeconds: new Histogram({
      name: "switchboard_store_seconds",
      help: "Store operation latency, by operation",
      labelNames: ["op"] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    registrySeconds: new Histogram({
      name: "switchboard_registry_seconds",
      help: "Registry operation latency, by operation",
      labelNames: ["op"] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    matchRequests: new Counter({
      name: "switchboard_match_requests_total",
      help: "Match requests and cancels answered by the gateway, by operation and outcome",
      labelNames: ["op", "outcome"] as const,
      registers: r,
    }),
    matchQueueLength: new Gauge({
      name: "switchboard_match_queue_length",
      help: "Pending match tickets, as the matcher last saw the queue",
      registers: r,
    }),
    matchWait: new Histogram({
      name: "switchboard_match_wait_seconds",
      help: "From a ticket's request to its pairing",
      buckets: waitBuckets,
      registers: r,
    }),
    matches: new Counter({
      name: "switchboard_matches_total",
      help: "Pairs formed by the matcher's pairing step (rate = matches per second)",
      registers: r,
    }),
    matchHandovers: new Counter({
      name: "switchboard_match_handovers_total",
      help: "Pairs handed over, by outcome: new (room created, both told), repeated (again, after a lease expired), ended (left before the repeat), superseded (one of them was matched anew meanwhile)",
      labelNames: ["outcome"] as const,
      registers: r,
    }),
    matchStepSeconds: new Histogram({
      name: "switchboard_match_step_seconds",
      help: "Time of one matcher step, by step (pair, handover)",
      labelNames: ["step"] as const,
      buckets: latencyBuckets,
      registers: r,
    }),
    matchErrors: new Counter({
      name: "switchboard_match_errors_total",
      help: "Matcher steps that failed (and are retried), by step",
      labelNames: ["step"] as const,
      registers: r,
    }),
    rateLimiterOutages: new Counter({
      name: "switchboard_rate_limiter_outages_total",
      help: "Times Redis stopped answering the rate limiter, which then limits per process until it answers again",
      registers: r,
    }),
    rateLimiterLocal: new Counter({
      name: "switchboard_rate_limiter_local_decisions_total",
      help: "Rate-limit decisions taken in this process (per-process buckets) while Redis did not answer",
      registers: r,
    }),
    deliveryOutages: new Counter({
      name: "switchboard_delivery_outages_total",
      help: "Times Redis pub/sub stopped answering a send, which then went through the Kafka deliveries topic until Redis answered again",
      registers: r,
    }),
    deliveryFallbacks: new Counter({
      name: "switchboard_delivery_fallback_payloads_total",
      help: "Payloads sent through the Kafka deliveries topic because Redis pub/sub did not answer (or had just come back)",
      registers: r,
    }),
    registryFallbacks: new Counter({
      name: "switchboard_forwarder_registry_fallbacks_total",
      help: "Events the forwarder sent to every gateway because the registry did not answer where their receivers are",
      registers: r,
    }),
    deliveriesRouted: new Counter({
      name: "switchboard_forwarder_deliveries_total",
      help: "Payloads sent to gateway pods by the forwarder",
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Times an async operation into a histogram. */
export async function timed<T>(
  h: Histogram<string>,
  labels: Record<string, string>,
  op: () => Promise<T>,
): Promise<T> {
  const end = h.startTimer(labels);
  try {
    return await op();
  } finally {
    end();
  }
}
