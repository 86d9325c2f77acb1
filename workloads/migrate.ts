// Applies the Cassandra migrations and exits 0 on success, 1 on failure.
//
//   CASSANDRA_CONTACT_POINTS=127.0.0.1:19042 CASSANDRA_LOCAL_DC=datacenter1 \
//   CASSANDRA_KEYSPACE=switchboard [CASSANDRA_REPLICATION_FACTOR=1] node workloads/migrate.ts
//
// A new keyspace gets NetworkTopologyStrategy with CASSANDRA_REPLICATION_FACTOR (default 1) in
// the local data centre. The operator calls the same migrate() itself.
import { Client } from "cassandra-driver";
import { migrate, type Replication, validateKeyspace } from "#contract/schema/migrate";
import { SETTINGS as S } from "#contract/settings";

export interface MigrateCliConfig {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;
  readonly replication: Replication;
}

/** Parses the environment; every problem found is listed in one message. */
export function parseMigrateEnv(
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; config: MigrateCliConfig } | { ok: false; message: string } {
  const problems: string[] = [];
  const contactPoints = (env[S.cassandraContactPoints.name] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (contactPoints.length === 0) {
    problems.push(
      `${S.cassandraContactPoints.name} must list host[:port] entries, comma-separated`,
    );
  }
  for (const point of contactPoints) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/.test(point)) {
      problems.push(
        `${S.cassandraContactPoints.name} entry ${JSON.stringify(point)} is not host[:port]`,
      );
    }
  }
  const localDataCenter = (env[S.cassandraLocalDc.name] ?? "").trim();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(localDataCenter)) {
    problems.push(`${S.cassandraLocalDc.name} must name the local data centre (e.g. datacenter1)`);
  }
  const keyspace = validateKeyspace((env[S.cassandraKeyspace.name] ?? "").trim());
  if (!keyspace.ok) problems.push(`${S.cassandraKeyspace.name}: ${keyspace.error.message}`);
  const rfText = (env[S.cassandraReplicationFactor.name] ?? "1").trim();
  const rf = /^\d{1,2}$/.test(rfText) ? Number(rfText) : Number.NaN;
  if (!(rf >= 1 && rf <= 99)) {
    problems.push(
      `${S.cassandraReplicationFactor.name} must be an integer from 1 to 99, got ${JSON.stringify(rfText)}`,
    );
  }
  if (problems.length > 0 || !keyspace.ok) return { ok: false, message: problems.join("\n") };
  return {
    ok: true,
    config: {
      contactPoints,
      localDataCenter,
      keyspace: keyspace.value,
      replication: { class: "NetworkTopologyStrategy", dataCenters: { [localDataCenter]: rf } },
    },
  };
}

/** Runs the migration as the `migrate` command does; resolves to the process exit code. */
export async function runMigrate(): Promise<number> {
  const parsed = parseMigrateEnv(process.env);
  if (!parsed.ok) {
    console.error(`migrate: ${parsed.message}`);
    return 1;
  }
  const { contactPoints, localDataCenter, keyspace, replication } = parsed.config;
  const client = new Client({
    contactPoints: [...contactPoints],
    localDataCenter,
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
  });
  try {
    await client.connect();
    const result = await migrate(client, {
      keyspace,
      replication,
      log: (m) => console.error(`migrate: ${m}`),
    });
    if (!result.ok) {
      console.error(`migrate: ${result.error.code}: ${result.error.message}`);
      return 1;
    }
    return 0;
  } catch (err) {
    console.error(`migrate: cannot reach Cassandra at ${contactPoints.join(",")}: ${String(err)}`);
    return 1;
  } finally {
    await client.shutdown().catch(() => {});
  }
}

if (import.meta.main) process.exit(await runMigrate());
