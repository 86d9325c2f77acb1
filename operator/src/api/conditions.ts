// Condition types and reasons of ChatCluster status, in one place.

export const ConditionType = {
  Ready: "Ready",
  Progressing: "Progressing",
  Degraded: "Degraded",
  KafkaTopicsReady: "KafkaTopicsReady",
  CassandraSchemaReady: "CassandraSchemaReady",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  Reconciled: "Reconciled",
  Reconciling: "Reconciling",
  AsExpected: "AsExpected",
  DeploymentsNotReady: "DeploymentsNotReady",
  InvalidSpec: "InvalidSpec",
  ApplyFailed: "ApplyFailed",
  TopicsReady: "TopicsReady",
  KafkaUnreachable: "KafkaUnreachable",
  KafkaError: "KafkaError",
  PartitionShrinkRefused: "PartitionShrinkRefused",
  SchemaReady: "SchemaReady",
  CassandraUnreachable: "CassandraUnreachable",
  MigrationFailed: "MigrationFailed",
  SecretMissing: "SecretMissing",
  Deleting: "Deleting",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
