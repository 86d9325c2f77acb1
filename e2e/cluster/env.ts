// What the cluster suite is given: a KUBECONFIG, the tools, and where the ChatCluster's Pods
// find Kafka, Cassandra and Redis. hack/cluster prints these for the cluster it runs
// (`eval "$(hack/cluster env)"`); on kind, hack/kind does. The suite makes no other
// assumption about the cluster, so the same file runs on both.
import { fileURLToPath } from "node:url";

const required = (name: string, hint: string): string => {
  const v = process.env[name];
  if (v === undefined || v.trim() === "") throw new Error(`${name} is not set: ${hint}`);
  return v.trim();
};
const optional = (name: string, fallback: string): string => {
  const v = process.env[name];
  return v === undefined || v.trim() === "" ? fallback : v.trim();
};
const list = (v: string): string[] =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

export const repoDir = fileURLToPath(new URL("../../", import.meta.url));

export interface ClusterSuiteEnv {
  readonly kubeconfig: string;
  readonly helm: string;
  readonly kubectl: string;
  /** backend addresses as the Pods see them */
  readonly podKafka: string[];
  readonly podCassandra: string[];
  readonly podRedisUrl: string;
  /** how this process reaches gateway Pods and the Service: straight to their IPs, or through kubectl port-forward */
  readonly access: "direct" | "port-forward";
  /** a second tag of the workloads image present on the node, for the rolling-update test */
  readonly altImageTag: string;
  /** shell commands that stop and start one backend (Redis by default) for the outage test */
  readonly outageStop: string;
  readonly outageStart: string;
  /** the namespace the chart is installed into */
  readonly operatorNamespace: string;
}

export function readSuiteEnv(): ClusterSuiteEnv {
  const hint =
    'run `eval "$(hack/cluster env)"` and `eval "$(hack/stack env)"` with SB_NODE_ADDRESS set (or `eval "$(hack/kind env)"`) first';
  const access = optional("SB_E2E_ACCESS", "direct");
  if (access !== "direct" && access !== "port-forward") {
    throw new Error(`SB_E2E_ACCESS must be direct or port-forward, got ${JSON.stringify(access)}`);
  }
  return {
    kubeconfig: required("KUBECONFIG", hint),
    helm: optional("SB_HELM", "helm"),
    kubectl: optional("SB_KUBECTL", "kubectl"),
    podKafka: list(required("POD_KAFKA_BROKERS", hint)),
    podCassandra: list(required("POD_CASSANDRA_CONTACT_POINTS", hint)),
    podRedisUrl: required("POD_REDIS_URL", hint),
    access,
    altImageTag: optional("SB_E2E_ALT_IMAGE_TAG", "0.1.0-e2e"),
    outageStop: optional("SB_E2E_OUTAGE_STOP", `${repoDir}hack/stack down redis`),
    outageStart: optional("SB_E2E_OUTAGE_START", `${repoDir}hack/stack up redis`),
    operatorNamespace: optional("SB_E2E_OPERATOR_NAMESPACE", "switchboard-system"),
  };
}
