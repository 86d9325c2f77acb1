// Kafka topics of a ChatCluster, as a pure plan: what the spec wants, compared with what the
// broker has, gives the actions to take (create, grow, correct config) and the problems the
// operator refuses to "fix" (a shrink would lose data; a replication factor change needs a
// partition reassignment, which is the Kafka operator's job).
import { DELIVERIES_TOPIC } from "#contract/settings";
import { deliveriesTopic, messagesTopic, type ParsedChatCluster } from "../api/parse.ts";

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** topic configs the operator owns (others are left alone) */
  readonly configs: Readonly<Record<string, string>>;
}

export interface ObservedTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export type TopicAction =
  | { readonly kind: "create"; readonly topic: TopicSpec }
  | { readonly kind: "grow"; readonly topic: string; readonly from: number; readonly to: number }
  | {
      readonly kind: "configure";
      readonly topic: string;
      readonly configs: Readonly<Record<string, string>>;
      readonly was: Readonly<Record<string, string | undefined>>;
    };

export type TopicProblem =
  | {
      readonly kind: "shrink";
      readonly topic: string;
      readonly has: number;
      readonly wants: number;
    }
  | {
      readonly kind: "replicationFactor";
      readonly topic: string;
      readonly has: number;
      readonly wants: number;
    };

export interface TopicPlan {
  readonly actions: readonly TopicAction[];
  readonly problems: readonly TopicProblem[];
}

export function desiredTopics(c: ParsedChatCluster): TopicSpec[] {
  const { partitions, replicationFactor, retentionMs } = c.spec.kafka;
  return [
    {
      name: messagesTopic(c),
      partitions,
      replicationFactor,
      configs: { "retention.ms": String(retentionMs), "cleanup.policy": "delete" },
    },
    {
      // the fallback delivery path (docs/decisions/0019): one partition, an hour of retention
      name: deliveriesTopic(c),
      partitions: DELIVERIES_TOPIC.partitions,
      replicationFactor,
      configs: {
        "retention.ms": String(DELIVERIES_TOPIC.retentionMs),
        "cleanup.policy": "delete",
      },
    },
  ];
}

export function planTopics(
  desired: readonly TopicSpec[],
  observed: ReadonlyMap<string, ObservedTopic>,
): TopicPlan {
  const actions: TopicAction[] = [];
  const problems: TopicProblem[] = [];
  for (const want of desired) {
    const has = observed.get(want.name);
    if (has === undefined) {
      actions.push({ kind: "create", topic: want });
      continue;
    }
    if (has.partitions > want.partitions) {
      problems.push({
        kind: "shrink",
        topic: want.name,
        has: has.partitions,
        wants: want.partitions,
      });
    } else if (has.partitions < want.partitions) {
      actions.push({ kind: "grow", topic: want.name, from: has.partitions, to: want.partitions });
    }
    if (has.replicationFactor !== want.replicationFactor) {
      problems.push({
        kind: "replicationFactor",
        topic: want.name,
        has: has.replicationFactor,
        wants: want.replicationFactor,
      });
    }
    const drift = Object.entries(want.configs).filter(([k, v]) => has.configs[k] !== v);
    if (drift.length > 0) {
      actions.push({
        kind: "configure",
        topic: want.name,
        configs: Object.fromEntries(drift),
        was: Object.fromEntries(drift.map(([k]) => [k, has.configs[k]])),
      });
    }
  }
  return { actions, problems };
}

/** A problem as a sentence a person can act on. */
export function describeProblem(p: TopicProblem): string {
  return p.kind === "shrink"
    ? `topic ${p.topic} has ${p.has} partitions and the spec asks for ${p.wants}: Kafka cannot ` +
        `remove partitions without losing data, so the operator refuses; set kafka.partitions ` +
        `to ${p.has} or more`
    : `topic ${p.topic} has replication factor ${p.has} and the spec asks for ${p.wants}: ` +
        `changing it needs a partition reassignment (kafka-reassign-partitions), which the ` +
        `operator does not do; reassign the partitions, or set kafka.replicationFactor to ${p.has}`;
}

export function describeAction(a: TopicAction): string {
  switch (a.kind) {
    case "create":
      return `created topic ${a.topic.name} with ${a.topic.partitions} partitions, replication factor ${a.topic.replicationFactor}`;
    case "grow":
      return `grew topic ${a.topic} from ${a.from} to ${a.to} partitions`;
    case "configure":
      return `corrected topic ${a.topic} config: ${Object.entries(a.configs)
        .map(([k, v]) => `${k} ${a.was[k] ?? "(unset)"} -> ${v}`)
        .join(", ")}`;
  }
}
