// HorizontalPodAutoscalers (autoscaling/v2): CPU utilisation for every workload and, for the
// gateway, the average of its switchboard_gateway_connections gauge as a Pods metric (served
// where a metrics adapter such as prometheus-adapter exposes it; without one the HPA reports
// that metric as unavailable and scales on CPU alone).
import type { V2HorizontalPodAutoscaler, V2MetricSpec } from "@kubernetes/client-node";
import type { ParsedChatCluster } from "../api/parse.ts";
import { type Component, componentName, ownedMeta } from "./names.ts";

export const CONNECTIONS_METRIC = "switchboard_gateway_connections";

/** The component's HPA, or undefined when its spec has no autoscaling (then none exists). */
export function buildHpa(
  c: ParsedChatCluster,
  component: Component,
): V2HorizontalPodAutoscaler | undefined {
  const autoscaling = c.spec[component].autoscaling;
  if (autoscaling === undefined) return undefined;
  const metrics: V2MetricSpec[] = [
    {
      type: "Resource",
      resource: {
        name: "cpu",
        target: {
          type: "Utilization",
          averageUtilization: autoscaling.targetCPUUtilizationPercentage,
        },
      },
    },
  ];
  const perPod =
    component === "gateway" ? c.spec.gateway.autoscaling?.targetConnectionsPerPod : undefined;
  if (perPod !== undefined) {
    metrics.push({
      type: "Pods",
      pods: {
        metric: { name: CONNECTIONS_METRIC },
        target: { type: "AverageValue", averageValue: String(perPod) },
      },
    });
  }
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: ownedMeta(c, componentName(c, component), { component }),
    spec: {
      scaleTargetRef: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: componentName(c, component),
      },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics,
    },
  };
}
