// Whether the ChatCluster's Cassandra can keep the promise that an acknowledged message survives
// any single process crash (docs/decisions/0013): every node syncs its commit log before it
// acknowledges a write (commitlog_sync group or batch; periodic acknowledges first and loses
// what came since the last sync on a crash), and the keyspace has 3 replicas in the local data
// centre, so that LOCAL_QUORUM writes and reads (what the workloads use) survive the loss of one
// node and keep being accepted while one is down. Read over CQL (system_views.settings,
// Cassandra 4+, per node; system_schema.keyspaces), judged by a pure function.
import type { Client } from "cassandra-driver";
import { Reason } from "../api/conditions.ts";
import type { StepOutcome } from "./status.ts";

/** The replication factor production needs in the local data centre. */
export const MIN_REPLICATION_FACTOR = 3;
const DURABLE_MODES = new Set(["group", "batch"]);

export interface DurabilityFacts {
  /** per node: its commitlog_sync, or undefined when the node would not say */
  readonly nodes: readonly { readonly host: string; readonly commitlogSync?: string }[];
  /** the keyspace's replication factor in the local data centre, if known */
  readonly replicationFactor?: number;
  readonly localDatacenter: string;
  readonly keyspace: string;
}

/** The condition the facts call for: ok, or what cannot honour the guarantee and what to do. */
export function judgeDurability(f: DurabilityFacts): StepOutcome & { readonly known: boolean } {
  const periodic = f.nodes.filter(
    (n) => n.commitlogSync !== undefined && !DURABLE_MODES.has(n.commitlogSync),
  );
  if (periodic.length > 0) {
    return {
      ok: false,
      known: true,
      reason: Reason.CommitLogNotDurable,
      message:
        `Cassandra node(s) ${periodic.map((n) => `${n.host} (commitlog_sync: ${n.commitlogSync})`).join(", ")} ` +
        "acknowledge writes before their commit log is synced: a crash can lose acknowledged " +
        "messages; set commitlog_sync: group (or batch) on every node",
    };
  }
  const unknown = f.nodes.filter((n) => n.commitlogSync === undefined);
  if (f.nodes.length === 0 || unknown.length > 0 || f.replicationFactor === undefined) {
    const what = [
      ...(f.nodes.length === 0 ? ["no node answered"] : []),
      ...(unknown.length > 0
        ? [`no commitlog_sync from ${unknown.map((n) => n.host).join(", ")}`]
        : []),
      ...(f.replicationFactor === undefined
        ? [`no replication factor for ${f.localDatacenter} in keyspace ${f.keyspace}`]
        : []),
    ];
    return {
      ok: false,
      known: false,
      reason: Reason.DurabilityUnknown,
      message: `cannot tell whether acknowledged writes are durable: ${what.join("; ")} (needs Cassandra 4+ and read access to system_views.settings)`,
    };
  }
  if (f.replicationFactor < MIN_REPLICATION_FACTOR) {
    return {
      ok: false,
      known: true,
      reason: Reason.ReplicationTooLow,
      message:
        `keyspace ${f.keyspace} has ${f.replicationFactor} replica(s) in ${f.localDatacenter}: ` +
        "acknowledged messages survive a process crash (commit logs are synced) but not the " +
        "loss of a node's disk, and LOCAL_QUORUM writes stop while a replica is down; " +
        `production needs ${MIN_REPLICATION_FACTOR} (ALTER KEYSPACE, then a repair)`,
    };
  }
  return {
    ok: true,
    known: true,
    reason: Reason.Durable,
    message:
      `commit logs synced before acknowledging (${[...new Set(f.nodes.map((n) => n.commitlogSync))].join(", ")}) ` +
      `on ${f.nodes.length} node(s); keyspace ${f.keyspace} has ${f.replicationFactor} replicas in ` +
      `${f.localDatacenter}; writes and reads at LOCAL_QUORUM`,
  };
}

/** The replication factor in `dc` from a keyspace's replication map (as system_schema has it). */
export function replicationFactorIn(
  replication: Readonly<Record<string, string>>,
  dc: string,
): number | undefined {
  const cls = replication.class ?? "";
  const value = cls.endsWith("SimpleStrategy") ? replication.replication_factor : replication[dc];
  if (value === undefined) return undefined;
  // "3" or, with transient replication, "3/1": the full replicas come first
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads the facts: each node's commitlog_sync (virtual tables answer for their own node). */
export async function readDurabilityFacts(
  client: Client,
  keyspace: string,
  localDatacenter: string,
  timeoutMs: number,
): Promise<DurabilityFacts> {
  const hosts = client.hosts.values().filter((h) => h.isUp());
  const nodes = await Promise.all(
    hosts.map(async (host) => {
      try {
        const rs = await client.execute(
          "SELECT value FROM system_views.settings WHERE name = 'commitlog_sync'",
          [],
          { host, readTimeout: timeoutMs, isIdempotent: true },
        );
        const value: unknown = rs.first()?.get("value");
        return typeof value === "string"
          ? { host: host.address, commitlogSync: value }
          : { host: host.address };
      } catch {
        return { host: host.address };
      }
    }),
  );
  const rs = await client.execute(
    "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
    [keyspace],
    { prepare: true, readTimeout: timeoutMs },
  );
  const replication: unknown = rs.first()?.get("replication");
  const replicationFactor =
    replication !== null && typeof replication === "object"
      ? replicationFactorIn(replication as Record<string, string>, localDatacenter)
      : undefined;
  return {
    nodes,
    localDatacenter,
    keyspace,
    ...(replicationFactor === undefined ? {} : { replicationFactor }),
  };
}
