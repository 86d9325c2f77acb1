// The Cassandra edge of the reconcile: the keyspace with the spec's replication and then THE
// SAME versioned migrations the workloads' CLI applies (workloads/contract/schema/migrate.ts),
// each applied once and recorded, with schema agreement after each statement. A cheap read of
// schema_migrations comes first, so a reconcile of an up-to-date keyspace changes nothing.
// Never destructive on a spec edit: the keyspace name is immutable (CEL) and an existing
// keyspace's replication is never altered; only a Delete policy drops it, on deletion.
import { Client, auth as cassandraAuth, types } from "cassandra-driver";
import {
  loadMigrations,
  type MigrateSummary,
  migrate,
  type Replication,
  type Result,
} from "#contract/schema/migrate";
import type { ParsedChatCluster } from "../api/parse.ts";

export interface CassandraAccess {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly username?: string;
  readonly password?: string;
}

export interface CassandraTimeouts {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly lockTtlSeconds: number;
  readonly lockWaitMs: number;
}

/** A new keyspace's replication from the spec (default: 3 replicas in the local data centre). */
export function replicationOf(c: ParsedChatCluster): Replication {
  const r = c.spec.cassandra.replication;
  const local = c.spec.cassandra.localDatacenter;
  if (r?.class === "SimpleStrategy") {
    return { class: "SimpleStrategy", replicationFactor: r.replicationFactor ?? 3 };
  }
  return {
    class: "NetworkTopologyStrategy",
    dataCenters: r?.dataCenters ?? { [local]: r?.replicationFactor ?? 3 },
  };
}

/** True when the error says no Cassandra node could be reached. */
export function isUnreachable(err: unknown): boolean {
  const name = err instanceof Error ? err.name : "";
  const message = err instanceof Error ? err.message : String(err);
  return (
    name === "NoHostAvailableError" ||
    name === "OperationTimedOutError" ||
    /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|All host\(s\) tried/.test(message)
  );
}

/** Clients by contact points and credentials, connected once and reused across reconciles. */
export class CassandraClients {
  readonly #clients = new Map<string, Client>();
  readonly #t: CassandraTimeouts;

  constructor(t: CassandraTimeouts) {
    this.#t = t;
  }

  get timeouts(): CassandraTimeouts {
    return this.#t;
  }

  async client(a: CassandraAccess): Promise<Client> {
    const key = JSON.stringify([
      a.contactPoints,
      a.localDataCenter,
      a.username ?? "",
      a.password ?? "",
    ]);
    const cached = this.#clients.get(key);
    if (cached !== undefined) return cached;
    const client = new Client({
      contactPoints: [...a.contactPoints],
      localDataCenter: a.localDataCenter,
      socketOptions: {
        connectTimeout: this.#t.connectTimeoutMs,
        readTimeout: this.#t.requestTimeoutMs,
      },
      ...(a.username !== undefined &&
        a.password !== undefined && {
          authProvider: new cassandraAuth.PlainTextAuthProvider(a.username, a.password),
        }),
    });
    try {
      await client.connect();
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      throw err;
    }
    this.#clients.set(key, client);
    return client;
  }

  /** Forgets (and closes) the client after an error, so the next reconcile reconnects. */
  async evict(a: CassandraAccess): Promise<void> {
    const key = JSON.stringify([
      a.contactPoints,
      a.localDataCenter,
      a.username ?? "",
      a.password ?? "",
    ]);
    const c = this.#clients.get(key);
    this.#clients.delete(key);
    await c?.shutdown().catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(all.map((c) => c.shutdown().catch(() => undefined)));
  }
}

/** The versions recorded in the keyspace, or undefined when it has no migrations table yet. */
async function appliedVersions(client: Client, keyspace: string, timeoutMs: number) {
  const tables = await client.execute(
    "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
    [keyspace, "schema_migrations"],
    { prepare: true, readTimeout: timeoutMs },
  );
  if (tables.rowLength === 0) return undefined;
  const rs = await client.execute(`SELECT version FROM ${keyspace}.schema_migrations`, [], {
    consistency: types.consistencies.localQuorum,
    readTimeout: timeoutMs,
  });
  return new Set(rs.rows.map((r) => r.get("version") as number).filter((v) => v >= 0));
}

/**
 * Brings the keyspace to the latest migration. `applied` is empty when nothing had to be done
 * (the cheap read found every version recorded).
 */
export async function ensureSchema(
  client: Client,
  c: ParsedChatCluster,
  keyspace: string,
  t: CassandraTimeouts,
  log: (message: string) => void,
): Promise<Result<MigrateSummary>> {
  const migrations = await loadMigrations();
  if (!migrations.ok) return migrations;
  const have = await appliedVersions(client, keyspace, t.requestTimeoutMs);
  const latest = Math.max(...migrations.value.map((m) => m.version));
  if (have !== undefined && migrations.value.every((m) => have.has(m.version))) {
    return { ok: true, value: { version: Math.max(latest, ...have), applied: [] } };
  }
  return migrate(client, {
    keyspace,
    replication: replicationOf(c),
    log,
    lockTtlSeconds: t.lockTtlSeconds,
    lockWaitMs: t.lockWaitMs,
    statementTimeoutMs: t.requestTimeoutMs,
  });
}

/** Drops the keyspace (a Delete policy, on deletion) and waits for schema agreement. */
export async function dropKeyspace(
  client: Client,
  keyspace: string,
  timeoutMs: number,
): Promise<void> {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: timeoutMs });
  const metadata = client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  const deadline = Date.now() + timeoutMs;
  while (!(await metadata.checkSchemaAgreement())) {
    if (Date.now() > deadline) throw new Error(`no schema agreement after dropping ${keyspace}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
