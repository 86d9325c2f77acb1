// Everything a ChatCluster owns, as one pure function: the objects to apply, and the optional
// ones (an HPA without autoscaling, a disabled PDB) that must not exist.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ParsedChatCluster } from "../api/parse.ts";
import { buildHpa } from "./autoscaling.ts";
import { buildConfigMap } from "./configmap.ts";
import { buildPdb } from "./disruption.ts";
import { COMPONENTS, componentName } from "./names.ts";
import { buildNetworkPolicy } from "./network.ts";
import { buildServiceAccount } from "./serviceaccount.ts";
import { buildDeployment, buildService } from "./workloads.ts";

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface DesiredState {
  readonly apply: readonly KubernetesObject[];
  readonly absent: readonly ObjectRef[];
}

/** The kinds a ChatCluster owns, each watched by the operator. */
export const OWNED_KINDS = [
  { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts" },
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
  {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
  },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets" },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", plural: "networkpolicies" },
] as const;

export function desiredState(c: ParsedChatCluster): DesiredState {
  const apply: KubernetesObject[] = [buildServiceAccount(c), buildConfigMap(c)];
  const absent: ObjectRef[] = [];
  for (const component of COMPONENTS) {
    const name = componentName(c, component);
    apply.push(buildDeployment(c, component), buildService(c, component));
    apply.push(buildNetworkPolicy(c, component));
    const hpa = buildHpa(c, component);
    if (hpa === undefined) {
      absent.push({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name });
    } else {
      apply.push(hpa);
    }
    const pdb = buildPdb(c, component);
    if (pdb === undefined)
      absent.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", name });
    else apply.push(pdb);
  }
  return { apply, absent };
}
