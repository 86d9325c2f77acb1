// MemoryBus: the Bus in one process, for the embedded default and fast tests. Same guarantees
// as Kafka within the process: per-key order (a key always maps to one partition), one batch
// in flight per partition and group, offsets committed only after the handler resolved, a
// failed batch delivered again (after a bounded backoff), never skipped. Nothing survives a
// restart of the process.
import { setTimeout as delay } from "node:timers/promises";
import type { Bus, BusConsumer, BusRecord, ConsumedBatch, ConsumerOptions } from "./bus.ts";

export interface MemoryBusOptions {
  /** partitions of every topic, fixed when the topic is first used (default 4) */
  readonly partitions?: number;
  /** most records handed to one onBatch call (default 100) */
  readonly maxBatchRecords?: number;
  /** backoff before a failed batch is delivered again: doubles from min up to max */
  readonly retryBackoffMs?: { readonly min: number; readonly max: number };
}

export class BusClosedError extends Error {
  readonly code = "BUS_CLOSED";
  override readonly name = "BusClosedError";
}

type StoredRecord = BusRecord & { readonly offset: string };

interface Member {
  readonly options: ConsumerOptions;
  stopping: boolean;
  partitions: readonly number[];
  left?: Promise<void>;
}

/** 32-bit FNV-1a: stable across processes and releases, which is all a partitioner needs. */
export function partitionForKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, "utf8")) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

class Topic {
  readonly name: string;
  readonly log: StoredRecord[][];
  readonly groups = new Map<string, Group>();

  constructor(name: string, partitions: number) {
    this.name = name;
    this.log = Array.from({ length: partitions }, () => []);
  }

  append(records: readonly BusRecord[]): void {
    for (const { key, value, headers } of records) {
      const partition = this.log[partitionForKey(key, this.log.length)] ?? [];
      partition.push({ key, value, headers: { ...headers }, offset: String(partition.length) });
    }
    for (const group of this.groups.values()) group.pump();
  }
}

class Group {
  readonly #topic: Topic;
  readonly #maxBatch: number;
  readonly #backoff: { readonly min: number; readonly max: number };
  readonly #members: Member[] = [];
  /** per partition: the member that owns it (undefined while no member runs) */
  #owners: (Member | undefined)[];
  /** per partition: next offset to deliver, that is the committed position */
  readonly #committed: number[];
  /** per partition: the delivery in progress, with the member it was handed to */
  readonly #inFlight: ({ member: Member; done: Promise<void> } | undefined)[];
  readonly #failures: number[];

  constructor(topic: Topic, maxBatch: number, backoff: { min: number; max: number }) {
    this.#topic = topic;
    this.#maxBatch = maxBatch;
    this.#backoff = backoff;
    const n = topic.log.length;
    this.#owners = Array.from({ length: n }, () => undefined);
    this.#committed = Array.from({ length: n }, () => 0);
    this.#inFlight = Array.from({ length: n }, () => undefined);
    this.#failures = Array.from({ length: n }, () => 0);
  }

  join(member: Member): void {
    // a latest member starts the group's idle partitions at the end of the log as it is now
    if (member.options.start === "latest") {
      this.#topic.log.forEach((records, p) => {
        if (this.#inFlight[p] === undefined) this.#committed[p] = records.length;
      });
    }
    this.#members.push(member);
    this.#rebalance();
  }

  /** Stops delivering to the member, waits for its batches in flight, then rebalances. */
  leave(member: Member): Promise<void> {
    member.left ??= this.#leave(member);
    return member.left;
  }

  async #leave(member: Member): Promise<void> {
    member.stopping = true;
    const mine = this.#inFlight.filter((f) => f?.member === member).map((f) => f?.done);
    await Promise.all(mine);
    this.#members.splice(this.#members.indexOf(member), 1);
    this.#rebalance();
  }

  get members(): readonly Member[] {
    return this.#members;
  }

  /** Round robin over the members in join order, like Kafka's RoundRobinAssigner. */
  #rebalance(): void {
    const active = this.#members.filter((m) => !m.stopping);
    this.#owners = this.#owners.map((_, p) => active[p % active.length]);
    for (const member of active) {
      const partitions = this.#owners.flatMap((owner, p) => (owner === member ? [p] : []));
      // one process, no lost sessions: what a member held before and holds now it never lost
      const kept = partitions.filter((p) => member.partitions.includes(p));
      member.partitions = partitions;
      const onAssignment = member.options.onAssignment;
      if (onAssignment !== undefined) queueMicrotask(() => onAssignment(partitions, kept));
    }
    this.pump();
  }

  /** Starts a delivery on every partition that has records, an owner and nothing in flight. */
  pump(): void {
    this.#owners.forEach((owner, partition) => {
      const log = this.#topic.log[partition] ?? [];
      const next = this.#committed[partition] ?? 0;
      if (owner === undefined || owner.stopping || this.#inFlight[partition] !== undefined) return;
      if (next >= log.length) return;
      const records = log.slice(next, next + this.#maxBatch);
      const current = () => !owner.stopping && this.#owners[partition] === owner;
      const batch = { topic: this.#topic.name, partition, records, current };
      const done = this.#deliver(owner, batch).finally(() => {
        this.#inFlight[partition] = undefined;
        this.pump();
      });
      this.#inFlight[partition] = { member: owner, done };
    });
  }

  async #deliver(member: Member, batch: ConsumedBatch): Promise<void> {
    await delay(0); // never inside publish() or consume(): always on a later turn
    try {
      await member.options.onBatch(batch);
    } catch {
      const failures = (this.#failures[batch.partition] ?? 0) + 1;
      this.#failures[batch.partition] = failures;
      const wait = Math.min(this.#backoff.max, this.#backoff.min * 2 ** (failures - 1));
      await delay(wait); // then pump() delivers from the committed offset again
      return;
    }
    this.#failures[batch.partition] = 0;
    const last = batch.records.at(-1);
    if (last !== undefined) this.#committed[batch.partition] = Number(last.offset) + 1;
  }
}

export class MemoryBus implements Bus {
  readonly #partitions: number;
  readonly #maxBatch: number;
  readonly #backoff: { readonly min: number; readonly max: number };
  readonly #topics = new Map<string, Topic>();
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.#partitions = options.partitions ?? 4;
    this.#maxBatch = options.maxBatchRecords ?? 100;
    this.#backoff = options.retryBackoffMs ?? { min: 50, max: 1000 };
    if (!Number.isInteger(this.#partitions) || this.#partitions < 1) {
      throw new RangeError(`partitions must be a positive integer, got ${this.#partitions}`);
    }
  }

  async publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (this.#closed) throw new BusClosedError("bus is closed");
    this.#topic(topic).append(records);
  }

  async consume(options: ConsumerOptions): Promise<BusConsumer> {
    if (this.#closed) throw new BusClosedError("bus is closed");
    const topic = this.#topic(options.topic);
    let group = topic.groups.get(options.groupId);
    if (group === undefined) {
      group = new Group(topic, this.#maxBatch, this.#backoff);
      topic.groups.set(options.groupId, group);
    }
    const member: Member = { options, stopping: false, partitions: [] };
    const joined = group;
    joined.join(member);
    return {
      stop: () => joined.leave(member),
      membership: () => ({ joined: !member.stopping, partitions: member.partitions }),
    };
  }

  /** In-process: always reachable. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    const leaving = [...this.#topics.values()].flatMap((topic) =>
      [...topic.groups.values()].flatMap((group) => group.members.map((m) => group.leave(m))),
    );
    await Promise.all(leaving);
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = new Topic(name, this.#partitions);
      this.#topics.set(name, topic);
    }
    return topic;
  }
}
