import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checksumOf,
  loadMigrations,
  type Migration,
  orderMigrations,
  parseMigration,
  parseMigrationFileName,
  planMigrations,
  qualifyStatement,
  replicationCql,
  splitStatements,
  validateKeyspace,
} from "#contract/schema/migrate";
import { parseMigrateEnv } from "./migrate.ts";

const migration = (version: number, text: string): Migration => {
  const parsed = parseMigration(`${String(version).padStart(4, "0")}_m${version}.cql`, text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  return parsed.value;
};
const code = (r: { ok: boolean; error?: { code: string } }): string | undefined => r.error?.code;

describe("migration files", () => {
  it("names are NNNN_name.cql with a version from 1", () => {
    assert.deepEqual(parseMigrationFileName("0001_initial.cql"), { version: 1, name: "initial" });
    assert.deepEqual(parseMigrationFileName("0042_add_x.cql"), { version: 42, name: "add_x" });
    for (const bad of [
      "0000_zero.cql",
      "1_short.cql",
      "0001-dash.cql",
      "0001_Upper.cql",
      "0001_x.sql",
    ]) {
      assert.equal(parseMigrationFileName(bad), undefined, bad);
    }
  });

  it("statements split at semicolons, not inside strings, identifiers or comments", () => {
    const text = [
      "-- a comment; with a semicolon",
      "CREATE TABLE IF NOT EXISTS a (id text PRIMARY KEY) WITH comment = 'x; y''s';",
      "/* block; comment */ CREATE TABLE IF NOT EXISTS b (",
      '  "odd;name" text PRIMARY KEY // trailing; comment',
      ");",
      "ALTER TABLE a ADD note text",
    ].join("\n");
    assert.deepEqual(splitStatements(text), [
      "CREATE TABLE IF NOT EXISTS a (id text PRIMARY KEY) WITH comment = 'x; y''s'",
      'CREATE TABLE IF NOT EXISTS b ( "odd;name" text PRIMARY KEY )',
      "ALTER TABLE a ADD note text",
    ]);
    assert.deepEqual(splitStatements("-- only a comment\n;;\n"), []);
  });

  it("statements are qualified with the keyspace", () => {
    const cases: [string, string][] = [
      [
        "CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS ks.users (id text PRIMARY KEY)",
      ],
      [
        "create table if not exists users(id text primary key)",
        "create table if not exists ks.users(id text primary key)",
      ],
      [
        "CREATE INDEX IF NOT EXISTS by_name ON users (name)",
        "CREATE INDEX IF NOT EXISTS by_name ON ks.users (name)",
      ],
      ["CREATE TYPE IF NOT EXISTS point (x int)", "CREATE TYPE IF NOT EXISTS ks.point (x int)"],
      ["ALTER TABLE users ADD note text", "ALTER TABLE ks.users ADD note text"],
      ["DROP TABLE IF EXISTS old", "DROP TABLE IF EXISTS ks.old"],
      ["DROP INDEX IF EXISTS by_name", "DROP INDEX IF EXISTS ks.by_name"],
    ];
    for (const [input, expected] of cases) {
      assert.deepEqual(qualifyStatement(input, "ks"), { ok: true, value: expected });
    }
  });

  it("refuses qualified names, non-idempotent DDL and anything but schema statements", () => {
    for (const bad of [
      "CREATE TABLE IF NOT EXISTS other.users (id text PRIMARY KEY)",
      "CREATE TABLE users (id text PRIMARY KEY)",
      "DROP TABLE users",
      "INSERT INTO users (id) VALUES ('x')",
      "CREATE KEYSPACE IF NOT EXISTS x WITH replication = {}",
      "DROP KEYSPACE IF EXISTS x",
      'CREATE TABLE IF NOT EXISTS "Quoted" (id text PRIMARY KEY)',
    ]) {
      assert.equal(code(qualifyStatement(bad, "ks")), "MIGRATION_INVALID_FILE", bad);
    }
    assert.equal(code(parseMigration("0001_x.cql", "DROP TABLE users;")), "MIGRATION_INVALID_FILE");
    assert.equal(code(parseMigration("0001_x.cql", "-- nothing\n")), "MIGRATION_INVALID_FILE");
    assert.equal(
      code(parseMigration("initial.cql", "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);")),
      "MIGRATION_INVALID_FILE",
    );
  });

  it("the checksum is of the whole text, line endings aside", () => {
    const text = "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);\n";
    assert.equal(checksumOf(text), checksumOf(text.replaceAll("\n", "\r\n")));
    assert.notEqual(checksumOf(text), checksumOf(`${text}-- a comment\n`));
    assert.match(checksumOf(text), /^[0-9a-f]{64}$/);
  });

  it("migrations are ordered by version, and a version may appear once", () => {
    const a = migration(2, "CREATE TABLE IF NOT EXISTS b (id int PRIMARY KEY);");
    const b = migration(1, "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);");
    const ordered = orderMigrations([a, b]);
    assert.deepEqual(ordered.ok ? ordered.value.map((m) => m.version) : [], [1, 2]);
    assert.equal(code(orderMigrations([a, a])), "MIGRATION_INVALID_FILE");
    assert.equal(code(orderMigrations([])), "MIGRATION_INVALID_FILE");
  });

  it("the project's migrations all parse, and every table of the Store and the NotificationStore is created", async () => {
    const loaded = await loadMigrations();
    assert.ok(loaded.ok, loaded.ok ? "" : loaded.error.message);
    assert.equal(loaded.value[0]?.version, 1);
    const created = loaded.value.flatMap((m) =>
      m.statements.map((s) => /^CREATE TABLE IF NOT EXISTS (\w+)/i.exec(s)?.[1]),
    );
    for (const table of [
      "users",
      "users_by_name",
      "rooms",
      "direct_rooms",
      "channels",
      "members",
      "rooms_by_user",
      "room_state",
      "messages",
      "messages_by_id",
      "message_ids",
      "read_positions",
      "refresh_tokens",
      "refresh_token_families",
      "notifications",
      "notification_ids",
      "notification_marks",
      "room_mutes",
    ]) {
      assert.ok(created.includes(table), `${table} is created`);
    }
  });

  it("versions run 1, 2, 3, ... without gaps, and replies add reply_to to both message tables", async () => {
    const loaded = await loadMigrations();
    assert.ok(loaded.ok, loaded.ok ? "" : loaded.error.message);
    assert.deepEqual(
      loaded.value.map((m) => m.version),
      loaded.value.map((_, i) => i + 1),
    );
    const statements = loaded.value.flatMap((m) => m.statements);
    for (const table of ["messages", "messages_by_id"]) {
      assert.ok(
        statements.includes(`ALTER TABLE ${table} ADD IF NOT EXISTS reply_to bigint`),
        `${table} gains reply_to`,
      );
    }
  });
});

describe("planning", () => {
  const m1 = migration(1, "CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY);");
  const m2 = migration(2, "CREATE TABLE IF NOT EXISTS b (id int PRIMARY KEY);");
  const record = (m: Migration, checksum = m.checksum) => ({
    version: m.version,
    name: m.name,
    checksum,
  });

  it("pending are the migrations not recorded, in order", () => {
    assert.deepEqual(planMigrations([m1, m2], []), {
      ok: true,
      value: { pending: [m1, m2], unknown: [] },
    });
    assert.deepEqual(planMigrations([m1, m2], [record(m1)]), {
      ok: true,
      value: { pending: [m2], unknown: [] },
    });
    assert.deepEqual(planMigrations([m1, m2], [record(m2), record(m1)]), {
      ok: true,
      value: { pending: [], unknown: [] },
    });
  });

  it("a recorded migration whose file changed is refused", () => {
    const r = planMigrations([m1, m2], [record(m1, "0".repeat(64))]);
    assert.equal(code(r), "MIGRATION_CHECKSUM_MISMATCH");
    assert.match(r.ok ? "" : r.error.message, /0001_m1.*add a new migration/);
  });

  it("versions recorded by a newer release are reported, not refused", () => {
    const newer = { version: 3, name: "future", checksum: "f".repeat(64) };
    assert.deepEqual(planMigrations([m1], [record(m1), newer]), {
      ok: true,
      value: { pending: [], unknown: [3] },
    });
  });
});

describe("options", () => {
  it("keyspace names are lower-case identifiers of at most 48 characters", () => {
    assert.ok(validateKeyspace("switchboard_1").ok);
    for (const bad of ["", "1ks", "Upper", "with-dash", "a.b", `k${"x".repeat(48)}`, "ks; DROP"]) {
      assert.equal(code(validateKeyspace(bad)), "MIGRATION_INVALID_OPTIONS", bad);
    }
  });

  it("replication becomes a CQL map after its factors and data centres are checked", () => {
    assert.deepEqual(replicationCql({ class: "SimpleStrategy", replicationFactor: 3 }), {
      ok: true,
      value: "{'class': 'SimpleStrategy', 'replication_factor': 3}",
    });
    assert.deepEqual(
      replicationCql({ class: "NetworkTopologyStrategy", dataCenters: { dc1: 3, "eu-west": 2 } }),
      { ok: true, value: "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'eu-west': 2}" },
    );
    for (const bad of [
      { class: "SimpleStrategy", replicationFactor: 0 } as const,
      { class: "SimpleStrategy", replicationFactor: 1.5 } as const,
      { class: "NetworkTopologyStrategy", dataCenters: {} } as const,
      { class: "NetworkTopologyStrategy", dataCenters: { "dc'1": 1 } } as const,
      { class: "NetworkTopologyStrategy", dataCenters: { dc1: 100 } } as const,
    ]) {
      assert.equal(code(replicationCql(bad)), "MIGRATION_INVALID_OPTIONS", JSON.stringify(bad));
    }
  });
});

describe("the migrate CLI's environment", () => {
  const good = {
    CASSANDRA_CONTACT_POINTS: "10.0.0.1:9042, cassandra-0.cassandra",
    CASSANDRA_LOCAL_DC: "dc1",
    CASSANDRA_KEYSPACE: "switchboard",
    CASSANDRA_REPLICATION_FACTOR: "3",
  };

  it("gives the connection and NetworkTopologyStrategy in the local data centre", () => {
    assert.deepEqual(parseMigrateEnv(good), {
      ok: true,
      config: {
        contactPoints: ["10.0.0.1:9042", "cassandra-0.cassandra"],
        localDataCenter: "dc1",
        keyspace: "switchboard",
        replication: { class: "NetworkTopologyStrategy", dataCenters: { dc1: 3 } },
      },
    });
    const { CASSANDRA_REPLICATION_FACTOR: _, ...withoutFactor } = good;
    const parsed = parseMigrateEnv(withoutFactor);
    assert.deepEqual(parsed.ok ? parsed.config.replication : undefined, {
      class: "NetworkTopologyStrategy",
      dataCenters: { dc1: 1 },
    });
  });

  it("names every bad or missing variable in one message", () => {
    const parsed = parseMigrateEnv({
      CASSANDRA_CONTACT_POINTS: "",
      CASSANDRA_KEYSPACE: "Bad-Name",
      CASSANDRA_REPLICATION_FACTOR: "three",
    });
    assert.equal(parsed.ok, false);
    const message = parsed.ok ? "" : parsed.message;
    for (const name of [
      "CASSANDRA_CONTACT_POINTS",
      "CASSANDRA_LOCAL_DC",
      "CASSANDRA_KEYSPACE",
      "CASSANDRA_REPLICATION_FACTOR",
    ]) {
      assert.match(message, new RegExp(name));
    }
    assert.equal(parseMigrateEnv({ ...good, CASSANDRA_REPLICATION_FACTOR: "0" }).ok, false);
    assert.equal(parseMigrateEnv({ ...good, CASSANDRA_CONTACT_POINTS: "host:port:x" }).ok, false);
  });
});
