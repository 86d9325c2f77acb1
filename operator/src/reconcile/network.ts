// NetworkPolicies: the gateway accepts client traffic on its port; the forwarder, the notifier and the
// matcher accept only scrapes of their probe/metrics port; nothing else may connect to any of
// them. Egress is not restricted: Kafka, Cassandra and Redis are the user's, addressed by
// host name, so no selector here could name them (docs/decisions/0008-operator.md).

import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { WORKLOAD_PORTS } from "#contract/settings";
import type { ParsedChatCluster } from "../api/parse.ts";
import { type Component, componentName, ownedMeta, selectorLabels } from "./names.ts";

export function buildNetworkPolicy(c: ParsedChatCluster, component: Component): V1NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: ownedMeta(c, componentName(c, component), { component }),
    spec: {
      podSelector: { matchLabels: selectorLabels(c, component) },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ port: WORKLOAD_PORTS[component], protocol: "TCP" }] }],
    },
  };
}
