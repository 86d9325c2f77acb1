// PodDisruptionBudgets: at most maxUnavailable pods of a workload evicted at once.
import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import type { ParsedChatCluster } from "../api/parse.ts";
import { type Component, componentName, ownedMeta, selectorLabels } from "./names.ts";

/** The component's PDB, or undefined when disabled or when the workload has no pods. */
export function buildPdb(
  c: ParsedChatCluster,
  component: Component,
): V1PodDisruptionBudget | undefined {
  const spec = c.spec[component];
  const pods = spec.autoscaling?.minReplicas ?? spec.replicas;
  if (!spec.podDisruptionBudget.enabled || pods === 0) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: ownedMeta(c, componentName(c, component), { component }),
    spec: {
      maxUnavailable: spec.podDisruptionBudget.maxUnavailable,
      selector: { matchLabels: selectorLabels(c, component) },
    },
  };
}
