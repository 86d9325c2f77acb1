// ChatCluster chat.switchboard.dev/v1alpha1: the one source of truth for the CRD's structural
// OpenAPI schema (crds/ is generated from it by hack/gen-crd.ts) and for the TypeScript types
// (TypeBox's Static). Defaults and CEL rules live here too, so the API server enforces them.
import {
  FormatRegistry,
  Kind,
  type Static,
  type TSchema,
  Type,
  TypeRegistry,
  type UnsafeOptions,
} from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export const GROUP = "chat.switchboard.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "ChatCluster";
export const PLURAL = "chatclusters";
export const SINGULAR = "chatcluster";

type Validation = { rule: string; message: string; reason?: string; fieldPath?: string };
const rules = (...v: Validation[]) => ({ "x-kubernetes-validations": v });

// Three kinds TypeBox does not have in a structural form: a string enum (`enum`, not anyOf), a
// string map (additionalProperties, not patternProperties) and an opaque object (metadata).
// Registered so that Value.Check (parse.ts) checks them as the API server does.
TypeRegistry.Set<{ enum: string[] }>("StringEnum", (schema, value) =>
  schema.enum.includes(value as string),
);
TypeRegistry.Set<{ additionalProperties: TSchema }>(
  "StringMap",
  (schema, value) =>
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => Value.Check(schema.additionalProperties, v)),
);
// The formats the schema uses, checked as the API server checks them.
FormatRegistry.Set("date-time", (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v));
FormatRegistry.Set("int64", () => true);
TypeRegistry.Set("OpaqueObject", (_schema, value) => typeof value === "object" && value !== null);

/** A string limited to some values: `enum` in the schema, a union of literals in the type. */
function StringEnum<T extends string[]>(values: [...T], options: UnsafeOptions = {}) {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: "StringEnum", type: "string", enum: values });
}

/** A map of string to `value` (additionalProperties, the structural form). */
function StringMap<T extends TSchema>(value: T, options: UnsafeOptions = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({
    ...options,
    [Kind]: "StringMap",
    type: "object",
    additionalProperties: value,
  });
}

const Name = Type.String({ minLength: 1, maxLength: 253 });
const Key = Type.String({ minLength: 1, maxLength: 253 });

/** A key of a Secret in the ChatCluster's namespace. */
export const SecretKeyRef = Type.Object(
  { name: Name, key: Key },
  { description: "a key of a Secret in the ChatCluster's namespace" },
);

const Quantity = Type.String({
  maxLength: 64,
  pattern: "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
});
const ResourceList = Type.Object({ cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) });
export const Resources = Type.Object(
  {
    requests: Type.Optional(ResourceList),
    limits: Type.Optional(ResourceList),
  },
  { description: "requests and limits of the workload's container" },
);

const DEFAULT_RESOURCES = { requests: { cpu: "100m", memory: "128Mi" } };

const Autoscaling = (gateway: boolean) =>
  Type.Object(
    {
      minReplicas: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
      maxReplicas: Type.Integer({ minimum: 1, maximum: 1000 }),
      targetCPUUtilizationPercentage: Type.Integer({ minimum: 1, maximum: 100, default: 70 }),
      ...(gateway && {
        targetConnectionsPerPod: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 1_000_000,
            description:
              "average open WebSocket connections per pod (the switchboard_gateway_connections " +
              "pods metric, where a metrics adapter serves it)",
          }),
        ),
      }),
    },
    {
      description: "a HorizontalPodAutoscaler; when set it owns the replica count",
      ...rules({
        rule: "self.minReplicas <= self.maxReplicas",
        message: "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
      }),
    },
  );

const PodDisruptionBudget = Type.Object({
  enabled: Type.Boolean({ default: true }),
  maxUnavailable: Type.Integer({ minimum: 0, default: 1 }),
});

const componentProperties = (replicas: number, gateway: boolean) => ({
  replicas: Type.Integer({ minimum: 0, maximum: 1000, default: replicas }),
  autoscaling: Type.Optional(Autoscaling(gateway)),
  resources: Type.Optional({ ...Resources, default: DEFAULT_RESOURCES }),
  podDisruptionBudget: Type.Optional({ ...PodDisruptionBudget, default: {} }),
});

export const GatewayService = Type.Object({
  type: StringEnum(["ClusterIP", "NodePort", "LoadBalancer"], { default: "ClusterIP" }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 80 }),
  annotations: Type.Optional(StringMap(Type.String({ maxLength: 4096 }))),
});

export const Gateway = Type.Object({
  ...componentProperties(2, true),
  service: Type.Optional({ ...GatewayService, default: {} }),
});
export const Forwarder = Type.Object(componentProperties(2, false));
export const Matcher = Type.Object(componentProperties(1, false), {
  description: "the random-stranger matcher",
});
export const Notifier = Type.Object(componentProperties(1, false), {
  description: "records notifications for offline members (docs/decisions/0022)",
});

export const Image = Type.Object({
  repository: Type.String({
    minLength: 1,
    maxLength: 255,
    default: "ghcr.io/switchboard/workloads",
  }),
  tag: Type.String({ minLength: 1, maxLength: 128, default: "0.1.0" }),
  pullPolicy: StringEnum(["Always", "IfNotPresent", "Never"], { default: "IfNotPresent" }),
});

/** A transition rule: `field` may be neither added, removed nor changed after creation. */
const immutable = (field: string, path: string) => ({
  rule: `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
  message: `${path} is immutable: set it when the ChatCluster is created, or never`,
  fieldPath: `.${field}`,
});

export const Kafka = Type.Object(
  {
    bootstrapServers: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
      minItems: 1,
      maxItems: 32,
    }),
    tls: Type.Optional(
      Type.Object({
        enabled: Type.Boolean({ default: true }),
        caSecretRef: Type.Optional(SecretKeyRef),
      }),
    ),
    sasl: Type.Optional(
      Type.Object({
        mechanism: StringEnum(["plain", "scram-sha-256", "scram-sha-512"]),
        usernameSecretRef: SecretKeyRef,
        passwordSecretRef: SecretKeyRef,
      }),
    ),
    topicPrefix: Type.Optional(
      Type.String({
        pattern: "^[a-zA-Z0-9._-]{1,200}$",
        maxLength: 200,
        description: "prefix of every topic (default: the ChatCluster's name); immutable",
      }),
    ),
    partitions: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 12,
      description: "partitions of the messages topic; may grow, never shrink",
      ...rules({
        rule: "self >= oldSelf",
        message: "kafka.partitions may grow but never shrink",
        reason: "FieldValueForbidden",
      }),
    }),
    replicationFactor: Type.Integer({ minimum: 1, maximum: 32, default: 3 }),
    retentionMs: Type.Integer({ minimum: 60_000, default: 604_800_000, format: "int64" }),
  },
  rules(immutable("topicPrefix", "kafka.topicPrefix")),
);

export const CassandraReplication = Type.Object(
  {
    class: StringEnum(["SimpleStrategy", "NetworkTopologyStrategy"], {
      default: "NetworkTopologyStrategy",
    }),
    replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
    dataCenters: Type.Optional(StringMap(Type.Integer({ minimum: 1, maximum: 99 }))),
  },
  {
    description:
      "used when the keyspace is created; an existing keyspace's replication is never changed",
    ...rules(
      {
        rule: "self.class != 'SimpleStrategy' || has(self.replicationFactor)",
        message: "SimpleStrategy needs replicationFactor",
      },
      {
        rule: "self.class != 'NetworkTopologyStrategy' || has(self.replicationFactor) || has(self.dataCenters)",
        message: "NetworkTopologyStrategy needs dataCenters or replicationFactor",
      },
    ),
  },
);

export const Cassandra = Type.Object(
  {
    contactPoints: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
      minItems: 1,
      maxItems: 32,
    }),
    localDatacenter: Type.String({ minLength: 1, maxLength: 64, default: "datacenter1" }),
    keyspace: Type.Optional(
      Type.String({
        pattern: "^[a-z][a-z0-9_]{0,47}$",
        maxLength: 48,
        description: "default: the ChatCluster's name with - as _; immutable",
      }),
    ),
    replication: Type.Optional(CassandraReplication),
    credentialsSecretRef: Type.Optional(
      Type.Object({ name: Name }, { description: "a Secret with the keys username and password" }),
    ),
  },
  rules(immutable("keyspace", "cassandra.keyspace")),
);

export const Redis = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: "^rediss?://" })),
    urlSecretRef: Type.Optional(SecretKeyRef),
  },
  {
    ...rules({
      rule: "has(self.url) != has(self.urlSecretRef)",
      message: "redis needs exactly one of url and urlSecretRef",
    }),
  },
);

export const Auth = Type.Object({
  jwtSecretRef: SecretKeyRef,
  issuer: Type.String({ minLength: 1, maxLength: 255, default: "switchboard" }),
  accessTokenTtlSeconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 900 }),
  refreshTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 31_536_000, default: 2_592_000 }),
});

export const ServerApi = Type.Object(
  {
    keySecretRef: {
      ...SecretKeyRef,
      description:
        "the Secret key holding the server keys: one or more, separated by commas or newlines, each at least 32 characters (several at once allow rotation)",
    },
  },
  {
    description:
      "the server API for backends (/v1/server/...; docs/server-api.md); without it the gateways answer it 403",
  },
);

export const Oidc = Type.Object(
  {
    issuerUrl: Type.String({
      minLength: 1,
      maxLength: 2048,
      pattern: "^https?://[^#]+$",
      description: "the provider's issuer; its /.well-known/openid-configuration is read",
    }),
    clientId: Type.String({ minLength: 1, maxLength: 255 }),
    clientSecretRef: Type.Optional({
      ...SecretKeyRef,
      description: "the Secret key holding the client secret; none: a public client (PKCE alone)",
    }),
    redirectUrl: Type.String({
      minLength: 1,
      maxLength: 2048,
      pattern: "^https?://[^#]+/v1/auth/oidc/callback$",
      description:
        "the gateways' callback as browsers reach it: <public URL of the gateways>/v1/auth/oidc/callback; register it at the provider",
    }),
    scopes: Type.String({
      minLength: 6,
      maxLength: 1024,
      pattern: "(^| )openid( |$)",
      default: "openid email profile",
    }),
    providerName: Type.String({
      minLength: 1,
      maxLength: 64,
      default: "SSO",
      description: 'the web client\'s button says "Sign in with <providerName>"',
    }),
    providerLogout: Type.Boolean({
      default: true,
      description:
        "signing out of a session that came from single sign-on also ends the provider's session (RP-initiated logout, through its end_session_endpoint)",
    }),
    postLogoutRedirectUrl: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        pattern: "^https?://[^#]+$",
        description:
          "where the provider sends the browser after its logout; none: the web client at redirectUrl's origin. Register it at the provider",
      }),
    ),
  },
  {
    description:
      "single sign-on with an OpenID Connect provider (docs/decisions/0023-single-sign-on.md); without it the gateways sign in with passwords only",
  },
);

export const ObjectStoreLimits = Type.Object({
  maxBytes: Type.Integer({
    minimum: 1,
    maximum: 5_368_709_120,
    default: 10_485_760,
    description: "the largest upload, in bytes (UPLOAD_MAX_BYTES)",
  }),
  contentTypes: Type.Array(
    Type.String({
      minLength: 3,
      maxLength: 127,
      pattern: "^[a-z0-9][a-z0-9!#$&^_.+-]*/([a-z0-9][a-z0-9!#$&^_.+-]*|\\*)$",
    }),
    {
      minItems: 1,
      maxItems: 64,
      default: [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "application/zip",
      ],
      description: "allowed media types: type/subtype, or type/* for a whole type",
    },
  ),
  uploadUrlTtlSeconds: Type.Integer({ minimum: 1, maximum: 3_600, default: 300 }),
  downloadUrlTtlSeconds: Type.Integer({ minimum: 1, maximum: 604_800, default: 300 }),
});

export const ObjectStore = Type.Object(
  {
    endpoint: Type.String({
      minLength: 1,
      maxLength: 2048,
      pattern: "^https?://",
      description:
        "the S3-compatible endpoint the gateways sign URLs for; browsers reach it directly, so it must be reachable by clients too",
    }),
    bucket: Type.String({ minLength: 3, maxLength: 63, pattern: "^[a-z0-9][a-z0-9.-]*[a-z0-9]$" }),
    region: Type.String({ minLength: 1, maxLength: 64, default: "us-east-1" }),
    credentialsSecretRef: Type.Object(
      { name: Name },
      { description: "a Secret with the keys accessKeyId and secretAccessKey" },
    ),
    forcePathStyle: Type.Boolean({
      default: true,
      description: "bucket in the path (MinIO, S3Proxy); false: virtual-hosted (bucket.host)",
    }),
    limits: Type.Optional({ ...ObjectStoreLimits, default: {} }),
  },
  {
    description:
      "where uploaded images and files go (docs/decisions/0021); without it uploads are off. The operator checks the bucket (ObjectStoreReady)",
  },
);

export const Observability = Type.Object({
  logLevel: StringEnum(["trace", "debug", "info", "warn", "error", "fatal"], { default: "info" }),
  otlpEndpoint: Type.Optional(
    Type.String({ minLength: 1, maxLength: 2048, pattern: "^https?://" }),
  ),
  traceSampleRatio: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
  metrics: Type.Boolean({
    default: true,
    description: "prometheus.io/scrape annotations on the pods",
  }),
});

export const ChatClusterSpec = Type.Object({
  image: Type.Optional({ ...Image, default: {} }),
  gateway: Type.Optional({ ...Gateway, default: {} }),
  forwarder: Type.Optional({ ...Forwarder, default: {} }),
  matcher: Type.Optional({ ...Matcher, default: {} }),
  notifier: Type.Optional({ ...Notifier, default: {} }),
  kafka: Kafka,
  cassandra: Cassandra,
  redis: Redis,
  auth: Auth,
  serverApi: Type.Optional(ServerApi),
  oidc: Type.Optional(Oidc),
  objectStore: Type.Optional(ObjectStore),
  observability: Type.Optional({ ...Observability, default: {} }),
  deletionPolicy: StringEnum(["Retain", "Delete"], {
    default: "Retain",
    description: "Retain keeps the topics and the keyspace when the ChatCluster is deleted",
  }),
});

/** metav1.Condition */
export const Condition = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 316 }),
  status: StringEnum(["True", "False", "Unknown"]),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: "int64" })),
  lastTransitionTime: Type.String({ format: "date-time" }),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
  }),
  message: Type.String({ maxLength: 32_768 }),
});

export const ComponentStatus = Type.Object({
  desiredReplicas: Type.Integer({ minimum: 0 }),
  readyReplicas: Type.Integer({ minimum: 0 }),
});

export const ChatClusterStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: "int64" })),
  conditions: Type.Optional(
    Type.Array(Condition, {
      maxItems: 32,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    }),
  ),
  gateway: Type.Optional(ComponentStatus),
  forwarder: Type.Optional(ComponentStatus),
  matcher: Type.Optional(ComponentStatus),
  notifier: Type.Optional(ComponentStatus),
  schemaVersion: Type.Optional(Type.Integer({ minimum: 0 })),
  topics: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 16 })),
  keyspace: Type.Optional(Type.String({ maxLength: 48 })),
  endpoints: Type.Optional(
    Type.Object({
      gateway: Type.Optional(Type.String({ maxLength: 1024 })),
    }),
  ),
});

const ObjectMeta = Type.Unsafe<{
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}>({ [Kind]: "OpaqueObject", type: "object" });

/** The whole resource as the CRD's openAPIV3Schema. */
export const ChatClusterSchema = Type.Object(
  {
    apiVersion: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    metadata: Type.Optional(ObjectMeta),
    spec: ChatClusterSpec,
    status: Type.Optional(ChatClusterStatus),
  },
  {
    description:
      "A horizontally scalable real-time chat backend on your Kafka, Cassandra and Redis",
    ...rules({
      rule: "self.metadata.name.size() <= 42",
      message: "the ChatCluster's name must be at most 42 characters (it prefixes topics and keys)",
    }),
  },
);

export type ChatClusterSpec = Static<typeof ChatClusterSpec>;
export type ChatClusterStatus = Static<typeof ChatClusterStatus>;
export type Condition = Static<typeof Condition>;
export type ComponentStatus = Static<typeof ComponentStatus>;
export type ChatCluster = Static<typeof ChatClusterSchema>;
export type SecretKeyRef = Static<typeof SecretKeyRef>;
export type ObjectStoreLimits = Static<typeof ObjectStoreLimits>;
export type Resources = Static<typeof Resources>;
