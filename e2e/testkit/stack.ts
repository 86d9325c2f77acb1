// Endpoints of the real stack that hack/stack starts. Read from the environment
// (`eval "$(hack/stack env)"`), or, where a variable is unset, from `hack/stack env` itself,
// so the ports have one source of truth: hack/lib/common.sh.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const stackScript = fileURLToPath(new URL("../../hack/stack", import.meta.url));

type Part = "redis" | "kafka" | "cassandra" | "s3proxy" | "kube" | "keycloak";

const fromScript = new Map<Part, Map<string, string>>();

function scriptEnv(part: Part): Map<string, string> {
  let vars = fromScript.get(part);
  if (vars === undefined) {
    const out = execFileSync(stackScript, ["env", part], { encoding: "utf8" });
    vars = new Map();
    for (const line of out.split("\n")) {
      const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
      if (m?.[1] !== undefined && m[2] !== undefined) {
        vars.set(m[1], m[2].replace(/^"(.*)"$/, "$1"));
      }
    }
    fromScript.set(part, vars);
  }
  return vars;
}

function setting(part: Part, name: string): string {
  const value = process.env[name] ?? scriptEnv(part).get(name);
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set and \`hack/stack env ${part}\` does not print it`);
  }
  return value;
}

const list = (v: string): string[] =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

export const redisUrl = (): string => setting("redis", "REDIS_URL");
export const kafkaBrokers = (): string[] => list(setting("kafka", "KAFKA_BROKERS"));
export const cassandraContactPoints = (): string[] =>
  list(setting("cassandra", "CASSANDRA_CONTACT_POINTS"));
export const cassandraLocalDc = (): string => setting("cassandra", "CASSANDRA_LOCAL_DC");
export const kubeconfigPath = (): string => setting("kube", "KUBECONFIG");
/** the kubectl hack/stack built (the machines have none installed) */
export const kubectlPath = (): string => setting("kube", "SB_KUBECTL");

/** The OpenID Connect provider hack/stack runs (Keycloak) and its client, for the gateway. */
export const oidcProvider = () => ({
  issuer: setting("keycloak", "SB_OIDC_ISSUER_URL"),
  clientId: setting("keycloak", "SB_OIDC_CLIENT_ID"),
  clientSecret: setting("keycloak", "SB_OIDC_CLIENT_SECRET"),
});

/**
 * A second client of the provider, whose back-channel logout URL is a gateway on `port`, and a
 * service account of the provider allowed to end people's sessions (its admin API).
 */
export const oidcBackChannel = () => ({
  clientId: setting("keycloak", "SB_OIDC_BACKCHANNEL_CLIENT_ID"),
  clientSecret: setting("keycloak", "SB_OIDC_BACKCHANNEL_CLIENT_SECRET"),
  port: Number(setting("keycloak", "SB_OIDC_BACKCHANNEL_PORT")),
  adminClientId: setting("keycloak", "SB_OIDC_ADMIN_CLIENT_ID"),
  adminClientSecret: setting("keycloak", "SB_OIDC_ADMIN_CLIENT_SECRET"),
});

/** The provider's test users: one whose email it has verified, and one whose it has not. */
export const oidcUsers = () => ({
  verified: {
    username: setting("keycloak", "SB_OIDC_USER"),
    password: setting("keycloak", "SB_OIDC_PASSWORD"),
    email: setting("keycloak", "SB_OIDC_EMAIL"),
  },
  unverified: {
    username: setting("keycloak", "SB_OIDC_UNVERIFIED_USER"),
    password: setting("keycloak", "SB_OIDC_UNVERIFIED_PASSWORD"),
    email: setting("keycloak", "SB_OIDC_UNVERIFIED_EMAIL"),
  },
});

/** the object store's endpoint, bucket and credentials (S3ObjectStoreOptions' shape) */
export const objectStore = () => ({
  endpoint: setting("s3proxy", "OBJECT_STORE_ENDPOINT"),
  bucket: setting("s3proxy", "OBJECT_STORE_BUCKET"),
  region: setting("s3proxy", "OBJECT_STORE_REGION"),
  accessKeyId: setting("s3proxy", "OBJECT_STORE_ACCESS_KEY_ID"),
  secretAccessKey: setting("s3proxy", "OBJECT_STORE_SECRET_ACCESS_KEY"),
});
