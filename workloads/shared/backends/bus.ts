// Bus: the durable, partitioned log every chat event travels through (Kafka in production,
// memory in the embedded default). Records with the same key keep their order. publish
// resolves only once the record is durable (acks = all). A consumer group delivers each
// record to one member; a batch's offsets are committed only after the handler resolved, so a
// crash repeats records and never skips one.

export interface BusRecord {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly (BusRecord & { readonly offset: string })[];
  /**
   * False once this member no longer holds the batch's partition through the client that
   * handed it out (a rebalance took it, or the client restarted): whoever holds it now starts
   * again from the committed offset, so work on the batch not yet done should be left undone.
   */
  readonly current?: () => boolean;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topic: string;
  /** called for each batch; its offsets are committed after it resolves */
  readonly onBatch: (batch: ConsumedBatch) => Promise<void>;
  /**
   * Batches of one partition handed to onBatch before the earlier ones resolved (default 1:
   * one at a time). Offsets are still committed in order: a batch's once it and every earlier
   * batch of its partition resolved. The handler is called in offset order and must take a
   * partition's batches side by side (the forwarder routes while its writes are in flight). An
   * adapter may hand out fewer at a time (the memory bus hands one).
   */
  readonly pipeline?: number;
  /**
   * With `pipeline` above 1: the offsets of resolved batches are committed together, at most
   * once per this many ms (default 0: one commit per batch). A member that takes a partition
   * over replays what was handled but not committed yet, so the handler must take a batch
   * twice, as it must after any crash. stop() commits what is resolved before it leaves.
   */
  readonly commitEveryMs?: number;
  /**
   * Called when the member's partitions change (after a rebalance), with the partitions it
   * held without a break since its previous assignment: no other member can have consumed
   * those in between (the two assignments are of the same or consecutive group generations).
   */
  readonly onAssignment?: (partitions: number[], kept: readonly number[]) => void;
  /**
   * A name of this member that outlives its process (the Pod name). A member that restarts
   * under the same name takes its partitions back without a rebalance, so the rest of the group
   * never stops. At most one running consumer per group and name.
   */
  readonly instanceId?: string;
  /**
   * "committed" (the default): the group resumes after its committed offsets (a new group at the
   * beginning of the topic) and commits after each batch. "latest": the member starts at the end
   * of the log as it is when it starts (and again after any restart of its client) and commits
   * nothing — for a listener that only wants what is published while it runs (a gateway's
   * fallback delivery). consume() resolves once that position is fixed: whatever is published
   * after it resolves reaches the member.
   */
  readonly start?: "committed" | "latest";
  /**
   * Called about every LAG_INTERVAL_MS with this member's lag on each partition it holds: the
   * records after the partition's committed offset. An observation for metrics only: an adapter
   * may report nothing (the memory bus does not).
   */
  readonly onLag?: (lag: ReadonlyMap<number, number>) => void;
}

/** How often a consumer with onLag reports its lag. */
export const LAG_INTERVAL_MS = 10_000;

export interface BusMembership {
  /** in the group now: joined, and not rebalancing, crashed or stopped since */
  readonly joined: boolean;
  /** the partitions assigned at the last join (none when the group has more members) */
  readonly partitions: readonly number[];
}

export interface BusConsumer {
  membership(): BusMembership;
  /** stops fetching, lets the batch in progress finish and commit, then leaves the group */
  stop(): Promise<void>;
}

/**
 * The consumer group check of a member's /readyz: passes while it is in its group. A member with
 * no partitions (the group has more members than the topic has partitions) is a standby that
 * takes over at the next rebalance: it counts as ready, and says so.
 */
export function groupStatus(consumer: BusConsumer | undefined, groupId: string): string {
  const m = consumer?.membership();
  if (m === undefined) throw new Error("not consuming");
  if (!m.joined) throw new Error(`not in group ${groupId} (joining or rebalancing)`);
  return m.partitions.length === 0
    ? `standby in ${groupId}: no partitions (more members than partitions)`
    : `in ${groupId} with partitions ${m.partitions.join(",")}`;
}

/**
 * Joins the group, trying again (1 s doubling to 15 s, each failure logged) until it joins or
 * `stopping()`: a topic not created yet or a Kafka not up yet keeps the member waiting, not
 * exiting. Resolves undefined when it stopped first. `pause` is the member's own, so that its
 * stop() can cut a pause short.
 */
export async function joinGroup(
  bus: Bus,
  options: ConsumerOptions,
  member: {
    readonly log: { warn(fields: object, msg: string): void };
    readonly stopping: () => boolean;
    readonly pause: (ms: number) => Promise<void>;
  },
): Promise<BusConsumer | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bus.consume(options);
    } catch (err) {
      if (member.stopping()) return undefined;
      const pause = Math.min(1_000 * 2 ** (attempt - 1), 15_000);
      member.log.warn({ err, attempt, pause }, "cannot join the consumer group yet; trying again");
      await member.pause(pause);
      if (member.stopping()) return undefined;
    }
  }
}

export interface Bus {
  publish(topic: string, records: readonly BusRecord[]): Promise<void>;
  consume(options: ConsumerOptions): Promise<BusConsumer>;
  /** Resolves while the log can take a publish now (brokers reachable); rejects saying why. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
