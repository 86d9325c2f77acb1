// Names, labels and owner references of everything a ChatCluster owns, in one place, so the
// builders, the pruning of objects no longer wanted and the watches agree.
import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import type { Workload } from "#contract/settings";
import type { ParsedChatCluster } from "../api/parse.ts";
import { API_VERSION, GROUP, KIND } from "../api/schema.ts";

/** The operator's one field manager for server-side apply (owned objects and status). */
export const FIELD_MANAGER = "switchboard-operator";
export const FINALIZER = `${GROUP}/cleanup`;
export const CONFIG_HASH_ANNOTATION = `${GROUP}/config-hash`;
export const CLUSTER_LABEL = `${GROUP}/cluster`;
export const MANAGED_BY = "app.kubernetes.io/managed-by";

export const COMPONENTS = [
  "gateway",
  "forwarder",
  "matcher",
  "notifier",
] as const satisfies Workload[];
export type Component = (typeof COMPONENTS)[number];

export const componentName = (c: ParsedChatCluster, component: Component) =>
  `${c.name}-${component}`;
export const configMapName = (c: ParsedChatCluster) => `${c.name}-config`;
export const serviceAccountName = (c: ParsedChatCluster) => `${c.name}-switchboard`;

/** Labels every owned object carries. */
export function commonLabels(c: ParsedChatCluster): Record<string, string> {
  return {
    "app.kubernetes.io/name": "switchboard",
    "app.kubernetes.io/instance": c.name,
    [MANAGED_BY]: FIELD_MANAGER,
    [CLUSTER_LABEL]: c.name,
  };
}

/** The selector of one component's pods (a Deployment's selector is immutable: keep it small). */
export function selectorLabels(c: ParsedChatCluster, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": "switchboard",
    "app.kubernetes.io/instance": c.name,
    "app.kubernetes.io/component": component,
  };
}

export function ownerReference(c: ParsedChatCluster): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: c.name,
    uid: c.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** metadata of an owned object: name, namespace, labels, the owner reference. */
export function ownedMeta(
  c: ParsedChatCluster,
  name: string,
  extra: { component?: Component; annotations?: Record<string, string> } = {},
): V1ObjectMeta {
  const labels = commonLabels(c);
  if (extra.component !== undefined) labels["app.kubernetes.io/component"] = extra.component;
  return {
    name,
    namespace: c.namespace,
    labels,
    ...(extra.annotations !== undefined && { annotations: extra.annotations }),
    ownerReferences: [ownerReference(c)],
  };
}
