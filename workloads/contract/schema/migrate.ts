// Versioned Cassandra migrations: the keyspace, then the NNNN_name.cql files of ./migrations in
// order, each applied once and recorded with its checksum in <keyspace>.schema_migrations.
// A library: the CLI (workloads/migrate.ts) and the operator call the same `migrate`.
//
// Concurrency: two processes may run it at once. The one that finds work takes a lock, an LWT
// row (version -1) in schema_migrations inserted IF NOT EXISTS with a TTL and renewed before
// each statement; the other waits for it, then re-reads what is applied and finds nothing left.
// As a second line, every statement must be idempotent (CREATE ... IF NOT EXISTS, DROP ... IF
// EXISTS) and each record is inserted IF NOT EXISTS, so a run that died half-way (its lock then
// expires) is simply repeated. Decision record: docs/decisions/0004-cassandra-data-model.md.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type Client, types } from "cassandra-driver";

export const MIGRATE_ERROR_CODES = [
  "MIGRATION_INVALID_OPTIONS",
  "MIGRATION_INVALID_FILE",
  "MIGRATION_CHECKSUM_MISMATCH",
  "MIGRATION_LOCK_TIMEOUT",
  "MIGRATION_LOCK_LOST",
  "MIGRATION_SCHEMA_DISAGREEMENT",
  "MIGRATION_CASSANDRA_ERROR",
] as const;
export type MigrateErrorCode = (typeof MIGRATE_ERROR_CODES)[number];

export interface MigrateError {
  readonly code: MigrateErrorCode;
  readonly message: string;
  readonly cause?: unknown;
}

export type Result<T> = { readonly ok: true; readonly value: T } | ErrorResult;
type ErrorResult = { readonly ok: false; readonly error: MigrateError };

export type Replication =
  | { readonly class: "SimpleStrategy"; readonly replicationFactor: number }
  | {
      readonly class: "NetworkTopologyStrategy";
      /** data centre name → replication factor */
      readonly dataCenters: Readonly<Record<string, number>>;
    };

export interface MigrateOptions {
  readonly keyspace: string;
  /** used only when the keyspace does not exist yet; an existing keyspace is left as it is */
  readonly replication: Replication;
  readonly log?: (message: string) => void;
  /** folder of NNNN_name.cql files; default: ./migrations beside this file */
  readonly migrationsDir?: string | URL;
  /** the lock's TTL, renewed before each statement; default 60 */
  readonly lockTtlSeconds?: number;
  /** how long to wait for another process's lock; default 120 000 */
  readonly lockWaitMs?: number;
  /** how long to wait for schema agreement after each DDL statement; default 30 000 */
  readonly schemaAgreementTimeoutMs?: number;
  /** per-statement timeout; default 30 000 (DDL is slow on a busy node) */
  readonly statementTimeoutMs?: number;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  /** unqualified statements as written in the file, comments removed */
  readonly statements: readonly string[];
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

export interface MigrateSummary {
  /** the highest version recorded after this run (0 when there is none) */
  readonly version: number;
  /** what this run applied, in order; empty when the schema was already up to date */
  readonly applied: readonly AppliedMigration[];
}

const defaultMigrationsDir = new URL("./migrations/", import.meta.url);
const LOCK_VERSION = -1;
const IDENT = "[A-Za-z_][A-Za-z0-9_]*";

const fail = (code: MigrateErrorCode, message: string, cause?: unknown): ErrorResult => ({
  ok: false,
  error: cause === undefined ? { code, message } : { code, message, cause },
});

// ---- pure parts ----

/** A keyspace name we accept: lower case, so it needs no quoting, at most 48 characters. */
export function validateKeyspace(keyspace: string): Result<string> {
  return /^[a-z][a-z0-9_]{0,47}$/.test(keyspace)
    ? { ok: true, value: keyspace }
    : fail(
        "MIGRATION_INVALID_OPTIONS",
        `keyspace ${JSON.stringify(keyspace)} must match [a-z][a-z0-9_]{0,47}`,
      );
}

/** The replication map as CQL, after checking every factor and data centre name. */
export function replicationCql(replication: Replication): Result<string> {
  const factor = (n: number, of: string): string | undefined =>
    Number.isInteger(n) && n >= 1 && n <= 99
      ? undefined
      : `replication factor${of} must be an integer from 1 to 99, got ${n}`;
  if (replication.class === "SimpleStrategy") {
    const bad = factor(replication.replicationFactor, "");
    if (bad !== undefined) return fail("MIGRATION_INVALID_OPTIONS", bad);
    return {
      ok: true,
      value: `{'class': 'SimpleStrategy', 'replication_factor': ${replication.replicationFactor}}`,
    };
  }
  if (replication.class !== "NetworkTopologyStrategy") {
    return fail(
      "MIGRATION_INVALID_OPTIONS",
      "replication class must be SimpleStrategy or NetworkTopologyStrategy",
    );
  }
  const entries = Object.entries(replication.dataCenters);
  if (entries.length === 0) {
    return fail(
      "MIGRATION_INVALID_OPTIONS",
      "NetworkTopologyStrategy needs at least one data centre",
    );
  }
  const parts = ["'class': 'NetworkTopologyStrategy'"];
  for (const [dc, n] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(dc)) {
      return fail(
        "MIGRATION_INVALID_OPTIONS",
        `data centre name ${JSON.stringify(dc)} is not valid`,
      );
    }
    const bad = factor(n, ` of ${dc}`);
    if (bad !== undefined) return fail("MIGRATION_INVALID_OPTIONS", bad);
    parts.push(`'${dc}': ${n}`);
  }
  return { ok: true, value: `{${parts.join(", ")}}` };
}

/** "0001_initial.cql" → { version: 1, name: "initial" }; undefined for any other name. */
export function parseMigrationFileName(
  fileName: string,
): { version: number; name: string } | undefined {
  const m = /^(\d{4})_([a-z0-9_]+)\.cql$/.exec(fileName);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const version = Number(m[1]);
  return version >= 1 ? { version, name: m[2] } : undefined;
}

/** sha256 of the text with line endings normalised, so a CRLF checkout changes nothing. */
export function checksumOf(text: string): string {
  return createHash("sha256").update(text.replaceAll("\r\n", "\n")).digest("hex");
}

/**
 * Splits CQL into statements at `;`, dropping `--`, `//` and `/* *\/` comments; a `;` inside
 * a 'string', a "quoted identifier" or a $$dollar string$$ does not split.
 */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let current = "";
  let i = 0;
  const copyUntil = (end: string): void => {
    const stop = text.indexOf(end, i);
    const to = stop === -1 ? text.length : stop + end.length;
    current += text.slice(i, to);
    i = to;
  };
  while (i < text.length) {
    const two = text.slice(i, i + 2);
    const c = text[i];
    if (two === "--" || two === "//") {
      const stop = text.indexOf("\n", i);
      i = stop === -1 ? text.length : stop;
    } else if (two === "/*") {
      const stop = text.indexOf("*/", i + 2);
      i = stop === -1 ? text.length : stop + 2;
      current += " ";
    } else if (two === "$$") {
      current += two;
      i += 2;
      copyUntil("$$");
    } else if (c === "'" || c === '"') {
      // a doubled quote inside is an escaped quote: copying two quoted runs back to back is the same text
      current += c;
      i += 1;
      copyUntil(c);
    } else if (c === ";") {
      statements.push(current);
      current = "";
      i += 1;
    } else {
      current += c;
      i += 1;
    }
  }
  statements.push(current);
  return statements.map((s) => s.replace(/\s+/g, " ").trim()).filter((s) => s !== "");
}

const QUALIFIABLE: readonly RegExp[] = [
  new RegExp(`^(CREATE TABLE IF NOT EXISTS )(${IDENT})(?![\\w.])`, "i"),
  new RegExp(`^(CREATE TYPE IF NOT EXISTS )(${IDENT})(?![\\w.])`, "i"),
  new RegExp(
    `^(CREATE (?:CUSTOM )?INDEX IF NOT EXISTS (?:${IDENT} )?ON )(${IDENT})(?![\\w.])`,
    "i",
  ),
  new RegExp(`^(ALTER TABLE (?:IF EXISTS )?)(${IDENT})(?![\\w.])`, "i"),
  new RegExp(`^(ALTER TYPE (?:IF EXISTS )?)(${IDENT})(?![\\w.])`, "i"),
  new RegExp(`^(DROP (?:TABLE|TYPE|INDEX) IF EXISTS )(${IDENT})(?![\\w.])`, "i"),
];

/**
 * Prefixes the statement's table, type or index name with the keyspace. Only the idempotent
 * schema statements above are accepted, with unqualified names: anything else is refused, so a
 * migration can neither touch another keyspace nor fail when repeated.
 */
export function qualifyStatement(statement: string, keyspace: string): Result<string> {
  for (const pattern of QUALIFIABLE) {
    if (pattern.test(statement)) {
      return { ok: true, value: statement.replace(pattern, `$1${keyspace}.$2`) };
    }
  }
  const head = statement.slice(0, 60);
  return fail(
    "MIGRATION_INVALID_FILE",
    `statement "${head}..." is not an idempotent schema statement on an unqualified name ` +
      "(CREATE TABLE|TYPE|INDEX IF NOT EXISTS, ALTER TABLE|TYPE, DROP TABLE|TYPE|INDEX IF EXISTS)",
  );
}

/** Parses one migration file, checking that every statement can be qualified. */
export function parseMigration(fileName: string, text: string): Result<Migration> {
  const id = parseMigrationFileName(fileName);
  if (id === undefined) {
    return fail("MIGRATION_INVALID_FILE", `${fileName}: name must look like 0001_some_name.cql`);
  }
  const statements = splitStatements(text);
  if (statements.length === 0) return fail("MIGRATION_INVALID_FILE", `${fileName}: no statement`);
  for (const s of statements) {
    const q = qualifyStatement(s, "ks");
    if (!q.ok) return fail(q.error.code, `${fileName}: ${q.error.message}`);
  }
  return { ok: true, value: { ...id, checksum: checksumOf(text), statements } };
}

/** Orders migrations by version and refuses duplicates and an empty set. */
export function orderMigrations(migrations: readonly Migration[]): Result<Migration[]> {
  if (migrations.length === 0) return fail("MIGRATION_INVALID_FILE", "no migration found");
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev !== undefined && cur !== undefined && prev.version === cur.version) {
      return fail(
        "MIGRATION_INVALID_FILE",
        `two migrations have version ${cur.version}: ${prev.name} and ${cur.name}`,
      );
    }
  }
  return { ok: true, value: sorted };
}

export interface Plan {
  readonly pending: readonly Migration[];
  /** versions recorded as applied that no file describes (a newer release applied them) */
  readonly unknown: readonly number[];
}

/** What is left to apply; refuses when an applied migration's file has changed since. */
export function planMigrations(
  migrations: readonly Migration[],
  applied: readonly AppliedMigration[],
): Result<Plan> {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const unknown: number[] = [];
  for (const a of applied) {
    const m = byVersion.get(a.version);
    if (m === undefined) {
      unknown.push(a.version);
    } else if (m.checksum !== a.checksum) {
      return fail(
        "MIGRATION_CHECKSUM_MISMATCH",
        `migration ${fileLabel(m)} was applied with checksum ${a.checksum} but the file now has ` +
          `${m.checksum}: an applied migration must not change; add a new migration instead`,
      );
    }
  }
  const done = new Set(applied.map((a) => a.version));
  return { ok: true, value: { pending: migrations.filter((m) => !done.has(m.version)), unknown } };
}

const fileLabel = (m: { version: number; name: string }): string =>
  `${String(m.version).padStart(4, "0")}_${m.name}`;

// ---- I/O ----

/** Reads and parses every NNNN_name.cql file of the folder, in version order. */
export async function loadMigrations(
  dir: string | URL = defaultMigrationsDir,
): Promise<Result<Migration[]>> {
  const base = typeof dir === "string" ? dir : fileURLToPath(dir);
  let names: string[];
  try {
    names = (await readdir(base)).filter((n) => n.endsWith(".cql")).sort();
  } catch (err) {
    return fail("MIGRATION_INVALID_FILE", `cannot read migrations folder ${base}`, err);
  }
  const migrations: Migration[] = [];
  for (const name of names) {
    const parsed = parseMigration(name, await readFile(join(base, name), "utf8"));
    if (!parsed.ok) return parsed;
    migrations.push(parsed.value);
  }
  return orderMigrations(migrations);
}

class Failure extends Error {
  readonly code: MigrateErrorCode;
  constructor(code: MigrateErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

interface Session {
  readonly client: Client;
  readonly keyspace: string;
  readonly log: (message: string) => void;
  readonly owner: string;
  readonly lockTtlSeconds: number;
  readonly lockWaitMs: number;
  readonly agreementMs: number;
  readonly timeoutMs: number;
}

/**
 * Creates the keyspace if absent and applies every migration not yet recorded. Resolves an
 * error value (never rejects) with a stable code when it cannot.
 */
export async function migrate(
  client: Client,
  options: MigrateOptions,
): Promise<Result<MigrateSummary>> {
  const keyspace = validateKeyspace(options.keyspace);
  if (!keyspace.ok) return keyspace;
  const replication = replicationCql(options.replication);
  if (!replication.ok) return replication;
  const loaded = await loadMigrations(options.migrationsDir);
  if (!loaded.ok) return loaded;
  const s: Session = {
    client,
    keyspace: keyspace.value,
    log: options.log ?? (() => {}),
    owner: `lock:${randomUUID()}`,
    lockTtlSeconds: options.lockTtlSeconds ?? 60,
    lockWaitMs: options.lockWaitMs ?? 120_000,
    agreementMs: options.schemaAgreementTimeoutMs ?? 30_000,
    timeoutMs: options.statementTimeoutMs ?? 30_000,
  };
  try {
    return { ok: true, value: await run(s, replication.value, loaded.value) };
  } catch (err) {
    if (err instanceof Failure) return fail(err.code, err.message);
    const message = err instanceof Error ? err.message : String(err);
    return fail("MIGRATION_CASSANDRA_ERROR", `migrating keyspace ${s.keyspace}: ${message}`, err);
  }
}

async function run(
  s: Session,
  replication: string,
  migrations: Migration[],
): Promise<MigrateSummary> {
  await ddl(s, `CREATE KEYSPACE IF NOT EXISTS ${s.keyspace} WITH replication = ${replication}`);
  await ddl(
    s,
    `CREATE TABLE IF NOT EXISTS ${s.keyspace}.schema_migrations ` +
      "(version int PRIMARY KEY, name text, checksum text, applied_at timestamp)",
  );
  const first = await plan(s, migrations);
  if (first.pending.length === 0) {
    const version = await currentVersion(s);
    s.log(`keyspace ${s.keyspace} is up to date at version ${version}`);
    return { version, applied: [] };
  }
  await acquireLock(s);
  const applied: AppliedMigration[] = [];
  try {
    // re-read under the lock: another process may have applied them while we waited
    for (const m of (await plan(s, migrations)).pending) {
      s.log(`applying ${fileLabel(m)} to ${s.keyspace} (${m.statements.length} statements)`);
      for (const statement of m.statements) {
        await renewLock(s);
        const q = qualifyStatement(statement, s.keyspace);
        if (!q.ok) throw new Failure(q.error.code, q.error.message);
        await ddl(s, q.value);
      }
      await s.client.execute(
        `INSERT INTO ${s.keyspace}.schema_migrations (version, name, checksum, applied_at) ` +
          "VALUES (?, ?, ?, ?) IF NOT EXISTS",
        [m.version, m.name, m.checksum, new Date()],
        lwt(s),
      );
      applied.push({ version: m.version, name: m.name, checksum: m.checksum });
      s.log(`applied ${fileLabel(m)}`);
    }
  } finally {
    await releaseLock(s);
  }
  const version = await currentVersion(s);
  s.log(`keyspace ${s.keyspace} is at version ${version}`);
  return { version, applied };
}

const quorum = (s: Session) => ({
  prepare: true,
  consistency: types.consistencies.localQuorum,
  readTimeout: s.timeoutMs,
});
const lwt = (s: Session) => ({ ...quorum(s), serialConsistency: types.consistencies.localSerial });

async function readApplied(s: Session): Promise<AppliedMigration[]> {
  const rs = await s.client.execute(
    `SELECT version, name, checksum FROM ${s.keyspace}.schema_migrations`,
    [],
    quorum(s),
  );
  return rs.rows
    .filter((r) => typeof r.get("version") === "number" && r.get("version") >= 0)
    .map((r) => ({ version: r.get("version"), name: r.get("name"), checksum: r.get("checksum") }));
}

async function currentVersion(s: Session): Promise<number> {
  return Math.max(0, ...(await readApplied(s)).map((a) => a.version));
}

async function plan(s: Session, migrations: Migration[]): Promise<Plan> {
  const p = planMigrations(migrations, await readApplied(s));
  if (!p.ok) throw new Failure(p.error.code, p.error.message);
  if (p.value.unknown.length > 0) {
    s.log(
      `keyspace ${s.keyspace} has versions no migration file here describes (${p.value.unknown.join(", ")}): ` +
        "a newer release applied them",
    );
  }
  return p.value;
}

/** Runs one DDL statement and waits until every live node agrees on the schema. */
async function ddl(s: Session, statement: string): Promise<void> {
  const rs = await s.client.execute(statement, [], {
    consistency: types.consistencies.localQuorum,
    readTimeout: s.timeoutMs,
  });
  // ResultSet.info.isSchemaInAgreement and Metadata.checkSchemaAgreement exist at runtime
  // (cassandra-driver 4.10) but not in its typings.
  const info = rs.info as { isSchemaInAgreement?: boolean };
  if (info.isSchemaInAgreement === true) return;
  const metadata = s.client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  const deadline = Date.now() + s.agreementMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    if (await metadata.checkSchemaAgreement()) return;
    if (Date.now() >= deadline) {
      throw new Failure(
        "MIGRATION_SCHEMA_DISAGREEMENT",
        `no schema agreement within ${s.agreementMs} ms after: ${statement.slice(0, 80)}`,
      );
    }
    await delay(wait);
  }
}

async function acquireLock(s: Session): Promise<void> {
  const deadline = Date.now() + s.lockWaitMs;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    const rs = await s.client.execute(
      `INSERT INTO ${s.keyspace}.schema_migrations (version, name, applied_at) VALUES (?, ?, ?) ` +
        "IF NOT EXISTS USING TTL ?",
      [LOCK_VERSION, s.owner, new Date(), s.lockTtlSeconds],
      lwt(s),
    );
    if (rs.wasApplied()) return;
    if (Date.now() >= deadline) {
      throw new Failure(
        "MIGRATION_LOCK_TIMEOUT",
        `another process held the migration lock of ${s.keyspace} for over ${s.lockWaitMs} ms ` +
          `(it expires ${s.lockTtlSeconds} s after its holder's last statement)`,
      );
    }
    s.log(`waiting for another process's migration lock on ${s.keyspace}`);
    await delay(wait);
  }
}

async function renewLock(s: Session): Promise<void> {
  const rs = await s.client.execute(
    `UPDATE ${s.keyspace}.schema_migrations USING TTL ? SET name = ?, applied_at = ? ` +
      "WHERE version = ? IF name = ?",
    [s.lockTtlSeconds, s.owner, new Date(), LOCK_VERSION, s.owner],
    lwt(s),
  );
  if (!rs.wasApplied()) {
    throw new Failure(
      "MIGRATION_LOCK_LOST",
      `the migration lock of ${s.keyspace} expired or was taken over; nothing more was applied`,
    );
  }
}

async function releaseLock(s: Session): Promise<void> {
  try {
    await s.client.execute(
      `DELETE FROM ${s.keyspace}.schema_migrations WHERE version = ? IF name = ?`,
      [LOCK_VERSION, s.owner],
      lwt(s),
    );
  } catch (err) {
    // the lock's TTL frees it anyway
    s.log(
      `could not release the migration lock: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
