// The operator's Prometheus metrics and span names, every name defined here once.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ConditionType } from "../api/conditions.ts";

export const SpanNames = { reconcile: "switchboard.operator.reconcile" } as const;

export function createOperatorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    reconciles: new Counter({
      name: "switchboard_operator_reconciles_total",
      help: "Reconciles of ChatClusters, by result (done, requeue, error)",
      labelNames: ["result"] as const,
      registers: r,
    }),
    errors: new Counter({
      name: "switchboard_operator_reconcile_errors_total",
      help: "Failed reconciles, by the step that failed",
      labelNames: ["step"] as const,
      registers: r,
    }),
    duration: new Histogram({
      name: "switchboard_operator_reconcile_duration_seconds",
      help: "Time of one reconcile",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    queueDepth: new Gauge({
      name: "switchboard_operator_queue_depth",
      help: "ChatClusters waiting in the work queue (ready or delayed)",
      registers: r,
    }),
    queueDropped: new Counter({
      name: "switchboard_operator_queue_dropped_total",
      help: "Keys refused because the work queue was full",
      registers: r,
    }),
    leader: new Gauge({
      name: "switchboard_operator_leader",
      help: "1 while this process holds the leader Lease",
      registers: r,
    }),
    conditions: new Gauge({
      name: "switchboard_operator_chatcluster_condition",
      // chatcluster_namespace, not namespace: Prometheus gives the scraped Pod's namespace that name
      help: "Each ChatCluster's status conditions as last written: 1 while True, 0 otherwise",
      labelNames: ["chatcluster_namespace", "chatcluster", "type"] as const,
      registers: r,
    }),
    watchRestarts: new Counter({
      name: "switchboard_operator_watch_restarts_total",
      help: "Watches restarted after an error, by kind",
      labelNames: ["kind"] as const,
      registers: r,
    }),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;

/**
 * Sets the condition gauge of a ChatCluster from the conditions its status write set, or
 * (conditions undefined: it was finalized) removes every series of it.
 */
export function recordConditions(
  metrics: Pick<OperatorMetrics, "conditions">,
  namespace: string,
  chatcluster: string,
  conditions: readonly { readonly type: string; readonly status: string }[] | undefined,
): void {
  if (conditions === undefined) {
    for (const type of Object.values(ConditionType)) {
      metrics.conditions.remove({ chatcluster_namespace: namespace, chatcluster, type });
    }
    return;
  }
  for (const c of conditions) {
    const labels = { chatcluster_namespace: namespace, chatcluster, type: c.type };
    metrics.conditions.set(labels, c.status === "True" ? 1 : 0);
  }
}
