// An identity bound ONLY to the chart's RBAC: a ServiceAccount in the test namespace, the
// chart's ClusterRole rules (under a unique name, bound in that namespace alone) and its
// leader-election Role, and a kubeconfig with a TokenRequest token for it.
import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1Role,
} from "@kubernetes/client-node";
import { dump, load } from "js-yaml";
import { uniqueK8sName } from "../testkit/index.ts";
import type { Cluster } from "./harness.ts";

const chart = new URL("../../charts/switchboard-operator/templates/", import.meta.url);

export interface Restricted {
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  cleanup(): Promise<void>;
}

export async function restrictedIdentity(cluster: Cluster, namespace: string): Promise<Restricted> {
  const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  const clusterRole = load(
    await readFile(new URL("clusterrole.yaml", chart), "utf8"),
  ) as V1ClusterRole;
  const role = load(await readFile(new URL("leader-election-role.yaml", chart), "utf8")) as V1Role;
  const roleName = uniqueK8sName("switchboard-operator");
  const sa = "switchboard-operator";
  await cluster.core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name: sa } },
  });
  await rbac.createClusterRole({ body: { ...clusterRole, metadata: { name: roleName } } });
  const subjects = [{ kind: "ServiceAccount", name: sa, namespace }];
  // a RoleBinding to the ClusterRole grants its rules in this namespace only
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "operator" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
      subjects,
    },
  });
  await rbac.createNamespacedRole({
    namespace,
    body: { ...role, metadata: { name: "leader-election", namespace } },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "leader-election" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "leader-election" },
      subjects,
    },
  });
  const token = await cluster.core.createNamespacedServiceAccountToken({
    namespace,
    name: sa,
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const server = cluster.kc.getCurrentCluster();
  if (server === null) throw new Error("the admin kubeconfig has no current cluster");
  const ca =
    server.caData ??
    (server.caFile ? (await readFile(server.caFile)).toString("base64") : undefined);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "stack", cluster: { server: server.server, "certificate-authority-data": ca } },
    ],
    users: [{ name: sa, user: { token: token.status?.token } }],
    contexts: [{ name: "operator", context: { cluster: "stack", user: sa, namespace } }],
    "current-context": "operator",
  };
  const path = join(tmpdir(), `switchboard-operator-${randomBytes(6).toString("hex")}.kubeconfig`);
  await writeFile(path, dump(config), { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return {
    kubeconfigPath: path,
    kubeConfig: kc,
    cleanup: async () => {
      await rm(path, { force: true });
      await rbac.deleteClusterRole({ name: roleName }).catch(() => undefined);
    },
  };
}
