// The ChatCluster's status as a pure function of what this reconcile observed: conditions that
// tell a person what is wrong and what to do, replicas per component, endpoints.
import { type ConditionInput, ConditionType, Reason, setCondition } from "../api/conditions.ts";
import type { ParsedChatCluster } from "../api/parse.ts";
import type { ChatClusterStatus, ComponentStatus } from "../api/schema.ts";
import { COMPONENTS, type Component, componentName } from "./names.ts";

export interface StepOutcome {
  readonly ok: boolean;
  readonly reason: (typeof Reason)[keyof typeof Reason];
  readonly message: string;
}

export interface DeploymentObservation {
  readonly desired: number;
  readonly ready: number;
  readonly updated: number;
  /** the Deployment controller has seen the latest template */
  readonly observed: boolean;
}

export interface Observations {
  kafka?: StepOutcome & { readonly topics?: readonly string[] };
  cassandra?: StepOutcome & { readonly schemaVersion?: number; readonly keyspace?: string };
  /** whether Cassandra's settings keep acknowledged writes (reported, never blocking Ready) */
  durability?: StepOutcome & { readonly known: boolean };
  /** whether spec.objectStore's bucket answers (reported, never blocking Ready) */
  objectStore?: StepOutcome;
  /** set when applying the owned objects failed (or a referenced Secret is missing) */
  apply?: StepOutcome;
  deployments?: Readonly<Record<Component, DeploymentObservation>>;
}

const pending = (what: string): ConditionInput => ({
  type: ConditionType.Ready,
  status: "False",
  reason: Reason.Waiting,
  message: what,
});

function podsSummary(d: Readonly<Record<Component, DeploymentObservation>>): string {
  return COMPONENTS.map((k) => `${k} ${d[k].ready}/${d[k].desired}`).join(", ");
}

export function computeStatus(c: ParsedChatCluster, o: Observations, now: Date): ChatClusterStatus {
  const gen = c.generation;
  let conditions = [...(c.status.conditions ?? [])];
  const set = (input: ConditionInput) => {
    conditions = setCondition(conditions, input, gen, now);
  };

  if (o.kafka !== undefined) {
    set({
      type: ConditionType.KafkaTopicsReady,
      status: o.kafka.ok ? "True" : "False",
      reason: o.kafka.reason,
      message: o.kafka.message,
    });
  }
  if (o.cassandra !== undefined) {
    set({
      type: ConditionType.CassandraSchemaReady,
      status: o.cassandra.ok ? "True" : "False",
      reason: o.cassandra.reason,
      message: o.cassandra.message,
    });
  }

  if (o.durability !== undefined) {
    set({
      type: ConditionType.AcknowledgedWritesDurable,
      status: o.durability.ok ? "True" : o.durability.known ? "False" : "Unknown",
      reason: o.durability.reason,
      message: o.durability.message,
    });
  }

  if (o.objectStore !== undefined) {
    set({
      type: ConditionType.ObjectStoreReady,
      status: o.objectStore.ok ? "True" : "False",
      reason: o.objectStore.reason,
      message: o.objectStore.message,
    });
  } else if (c.spec.objectStore === undefined) {
    conditions = conditions.filter((x) => x.type !== ConditionType.ObjectStoreReady);
  }

  const failures = [o.kafka, o.cassandra, o.apply].filter(
    (s): s is StepOutcome => s !== undefined && !s.ok,
  );
  const first = failures[0];
  set(
    first === undefined
      ? { type: ConditionType.Degraded, status: "False", reason: Reason.AsExpected, message: "" }
      : {
          type: ConditionType.Degraded,
          status: "True",
          reason: first.reason,
          message: failures.map((f) => f.message).join("; "),
        },
  );

  const d = o.deployments;
  const allReady =
    d !== undefined &&
    COMPONENTS.every(
      (k) => d[k].observed && d[k].updated >= d[k].desired && d[k].ready >= d[k].desired,
    );
  if (first !== undefined) {
    set({
      type: ConditionType.Ready,
      status: "False",
      reason: first.reason,
      message: `not ready: ${first.message}`,
    });
  } else if (d === undefined) {
    set(pending("the workloads are not applied yet"));
  } else if (allReady) {
    set({
      type: ConditionType.Ready,
      status: "True",
      reason: Reason.Reconciled,
      message: `topics, schema and workloads are ready (${podsSummary(d)} pods ready)`,
    });
  } else {
    set({
      type: ConditionType.Ready,
      status: "False",
      reason: Reason.PodsNotReady,
      message:
        `pods ready: ${podsSummary(d)}; the workloads are applied but not all pods are ready ` +
        "(see the pods' events: scheduling, image pull, probes)",
    });
  }

  const rolling =
    d !== undefined && COMPONENTS.some((k) => !d[k].observed || d[k].updated < d[k].desired);
  set(
    first === undefined && d !== undefined && !allReady
      ? {
          type: ConditionType.Progressing,
          status: "True",
          reason: rolling ? Reason.RollingOut : Reason.PodsNotReady,
          message: rolling
            ? `rolling out the latest pod template (${podsSummary(d)} pods ready)`
            : `waiting for pods to become ready (${podsSummary(d)})`,
        }
      : {
          type: ConditionType.Progressing,
          status: "False",
          reason: first === undefined ? Reason.Reconciled : first.reason,
          message: first === undefined ? "nothing left to roll out" : "blocked: see Degraded",
        },
  );

  const status: ChatClusterStatus = { ...c.status, observedGeneration: gen, conditions };
  if (d !== undefined) {
    for (const k of COMPONENTS) {
      const comp: ComponentStatus = { desiredReplicas: d[k].desired, readyReplicas: d[k].ready };
      status[k] = comp;
    }
  }
  if (o.kafka?.topics !== undefined) status.topics = [...o.kafka.topics];
  if (o.cassandra?.schemaVersion !== undefined) status.schemaVersion = o.cassandra.schemaVersion;
  if (o.cassandra?.keyspace !== undefined) status.keyspace = o.cassandra.keyspace;
  status.endpoints = {
    gateway: `http://${componentName(c, "gateway")}.${c.namespace}.svc:${c.spec.gateway.service.port}`,
  };
  return status;
}
