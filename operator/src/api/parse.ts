// Parse, don't validate: a ChatCluster from the API server (or a test) becomes a typed value with
// every default filled in, or an error listing what is wrong. The reconciler sees nothing else.

import { Value } from "@sinclair/typebox/value";
import { defaultKeyspaceOf, deliveriesTopicOf, messagesTopicOf } from "#contract/settings";
import { type ChatCluster, ChatClusterSchema, type ChatClusterSpec } from "./schema.ts";

type Filled<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
type Defaulted = "image" | "gateway" | "forwarder" | "matcher" | "notifier" | "observability";
type GatewaySpec = NonNullable<ChatClusterSpec["gateway"]>;
type ComponentSpec = NonNullable<ChatClusterSpec["forwarder"]>;

export type ResolvedGateway = Filled<GatewaySpec, "service" | "podDisruptionBudget" | "resources">;
export type ResolvedComponent = Filled<ComponentSpec, "podDisruptionBudget" | "resources">;
/** The spec after defaulting: the objects the schema defaults to {} are always there. */
export type ResolvedSpec = Omit<
  Filled<ChatClusterSpec, Defaulted>,
  "gateway" | "forwarder" | "matcher" | "notifier"
> & {
  readonly gateway: ResolvedGateway;
  readonly forwarder: ResolvedComponent;
  readonly matcher: ResolvedComponent;
  readonly notifier: ResolvedComponent;
};

export interface ParsedChatCluster {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation: number;
  readonly deleting: boolean;
  readonly finalizers: readonly string[];
  readonly spec: ResolvedSpec;
  readonly status: NonNullable<ChatCluster["status"]>;
}

export type ParseResult =
  | { readonly ok: true; readonly value: ParsedChatCluster }
  | { readonly ok: false; readonly message: string };

/** Fills the schema's defaults into a copy, then checks it against the schema. */
export function parseChatCluster(input: unknown): ParseResult {
  const copy = Value.Default(ChatClusterSchema, Value.Clone(input));
  if (!Value.Check(ChatClusterSchema, copy)) {
    const problems = [...Value.Errors(ChatClusterSchema, copy)]
      .slice(0, 5)
      .map((e) => `${e.path || "/"}: ${e.message}`);
    return { ok: false, message: `invalid ChatCluster: ${problems.join("; ")}` };
  }
  const meta = copy.metadata ?? {};
  if (meta.name === undefined || meta.namespace === undefined) {
    return { ok: false, message: "invalid ChatCluster: metadata.name and namespace are required" };
  }
  return {
    ok: true,
    value: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid ?? "",
      generation: meta.generation ?? 0,
      deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
      finalizers: meta.finalizers ?? [],
      spec: copy.spec as ResolvedSpec,
      status: copy.status ?? {},
    },
  };
}

/** The topic prefix: the spec's, or the ChatCluster's name. */
export const topicPrefix = (c: ParsedChatCluster): string => c.spec.kafka.topicPrefix ?? c.name;

/** The messages topic: the one the workloads read as SWITCHBOARD_TOPIC. */
export const messagesTopic = (c: ParsedChatCluster): string => messagesTopicOf(topicPrefix(c));

/** The deliveries topic: the one the workloads read as SWITCHBOARD_DELIVERIES_TOPIC. */
export const deliveriesTopic = (c: ParsedChatCluster): string => deliveriesTopicOf(topicPrefix(c));

/** The keyspace: the spec's, or the name with - as _ (as the workloads default it). */
export const keyspaceOf = (c: ParsedChatCluster): string =>
  c.spec.cassandra.keyspace ?? defaultKeyspaceOf(c.name);
