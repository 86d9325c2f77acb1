// Condition types and reasons of ChatCluster status, in one place, and the one helper that
// sets a condition: lastTransitionTime moves only when the status flips, observedGeneration is
// always stamped, and the clock is a parameter so tests control time.
import type { Condition } from "./schema.ts";

export const ConditionType = {
  Ready: "Ready",
  Progressing: "Progressing",
  Degraded: "Degraded",
  KafkaTopicsReady: "KafkaTopicsReady",
  CassandraSchemaReady: "CassandraSchemaReady",
  /** the Cassandra settings keep an acknowledged message through a crash (decision 0013) */
  AcknowledgedWritesDurable: "AcknowledgedWritesDurable",
  /** spec.objectStore's bucket answers HeadBucket (reported, never blocking Ready: chat works without uploads) */
  ObjectStoreReady: "ObjectStoreReady",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  Reconciled: "Reconciled",
  Reconciling: "Reconciling",
  AsExpected: "AsExpected",
  PodsNotReady: "PodsNotReady",
  RollingOut: "RollingOut",
  InvalidSpec: "InvalidSpec",
  ApplyFailed: "ApplyFailed",
  ReconcileFailed: "ReconcileFailed",
  TopicsReady: "TopicsReady",
  KafkaUnreachable: "KafkaUnreachable",
  KafkaError: "KafkaError",
  PartitionShrinkRefused: "PartitionShrinkRefused",
  ReplicationFactorMismatch: "ReplicationFactorMismatch",
  SchemaReady: "SchemaReady",
  CassandraUnreachable: "CassandraUnreachable",
  MigrationFailed: "MigrationFailed",
  Durable: "Durable",
  CommitLogNotDurable: "CommitLogNotDurable",
  ReplicationTooLow: "ReplicationTooLow",
  DurabilityUnknown: "DurabilityUnknown",
  SecretMissing: "SecretMissing",
  BucketReady: "BucketReady",
  BucketMissing: "BucketMissing",
  ObjectStoreUnreachable: "ObjectStoreUnreachable",
  Waiting: "Waiting",
  Deleting: "Deleting",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export type ConditionStatus = "True" | "False" | "Unknown";

export interface ConditionInput {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: Reason;
  readonly message: string;
}

/** The conditions with `input` set; the others and their order are kept. */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message.slice(0, 32_768),
    observedGeneration,
    lastTransitionTime:
      previous !== undefined && previous.status === input.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  return previous === undefined
    ? [...conditions, next]
    : conditions.map((c) => (c.type === input.type ? next : c));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export const isTrue = (conditions: readonly Condition[] | undefined, type: ConditionType) =>
  findCondition(conditions, type)?.status === "True";
