// The workloads' ServiceAccount: they call no Kubernetes API, so no token is mounted and no
// role is bound.
import type { V1ServiceAccount } from "@kubernetes/client-node";
import type { ParsedChatCluster } from "../api/parse.ts";
import { ownedMeta, serviceAccountName } from "./names.ts";

export function buildServiceAccount(c: ParsedChatCluster): V1ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: ownedMeta(c, serviceAccountName(c)),
    automountServiceAccountToken: false,
  };
}
