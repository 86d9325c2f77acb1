// CassandraStore against the real Cassandra of hack/stack: the Store contract on a fresh keyspace
// made by migrate(), and migrate() itself. Every keyspace is dropped again.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Client, tracker } from "cassandra-driver";
import { checksumOf, loadMigrations, migrate, type Replication } from "#contract/schema/migrate";
import {
  cassandraContactPoints,
  cassandraLocalDc,
  uniqueName,
} from "../../../e2e/testkit/index.ts";
import { CassandraStore } from "./store.cassandra.ts";
import { storeContract } from "./store.contract.ts";

const replication: Replication = { class: "SimpleStrategy", replicationFactor: 1 };
const migrationsDir = fileURLToPath(new URL("../../contract/schema/migrations/", import.meta.url));

async function connect(): Promise<Client> {
  const client = new Client({
    contactPoints: cassandraContactPoints(),
    localDataCenter: cassandraLocalDc(),
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
  });
  await client.connect();
  return client;
}

async function drop(client: Client, keyspace: string): Promise<void> {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 60_000 });
}

storeContract("cassandra", async () => {
  const client = await connect();
  const keyspace = uniqueName("store");
  const migrated = await migrate(client, { keyspace, replication });
  assert.ok(migrated.ok, migrated.ok ? "" : migrated.error.message);
  const store = new CassandraStore(client, keyspace);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await drop(client, keyspace);
      await client.shutdown();
    },
  };
});

describe("migrate() on a real Cassandra", () => {
  const clients: Client[] = [];
  const keyspaces: string[] = [];
  const dirs: string[] = [];
  const client = async (): Promise<Client> => {
    const c = await connect();
    clients.push(c);
    return c;
  };
  const keyspace = (): string => {
    const ks = uniqueName("migrate");
    keyspaces.push(ks);
    return ks;
  };
  /** a migrations folder holding these files */
  const folder = async (files: Record<string, string>): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "migrations-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  };
  const initial = (): Promise<string> => readFile(join(migrationsDir, "0001_initial.cql"), "utf8");
  const records = async (c: Client, ks: string) =>
    (await c.execute(`SELECT version, name, checksum FROM ${ks}.schema_migrations`)).rows
      .map((r) => ({ version: r.get("version"), name: r.get("name"), checksum: r.get("checksum") }))
      .sort((x, y) => x.version - y.version);

  after(async () => {
    const c = clients[0];
    if (c !== undefined) for (const ks of keyspaces) await drop(c, ks);
    for (const c2 of clients) await c2.shutdown();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("applies every migration once and records it; a second run applies nothing", async () => {
    const c = await client();
    const ks = keyspace();
    const files = await loadMigrations();
    assert.ok(files.ok);
    const first = await migrate(c, { keyspace: ks, replication });
    assert.ok(first.ok, first.ok ? "" : first.error.message);
    assert.deepEqual(
      first.value.applied.map((a) => a.version),
      files.value.map((m) => m.version),
    );
    assert.equal(first.value.version, files.value.at(-1)?.version);
    const expected = files.value.map((m) => ({
      version: m.version,
      name: m.name,
      checksum: m.checksum,
    }));
    assert.deepEqual(await records(c, ks), expected, "recorded with checksums, and no lock left");
    const second = await migrate(c, { keyspace: ks, replication });
    assert.ok(second.ok);
    assert.deepEqual(second.value.applied, []);
    assert.equal(second.value.version, first.value.version);
    const tables = await c.execute(
      "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
      [ks],
    );
    const names = tables.rows.map((r) => r.get("table_name") as string);
    for (const t of ["users", "users_by_name", "messages", "messages_by_id", "refresh_tokens"]) {
      assert.ok(names.includes(t), `table ${t} exists`);
    }
  });

  it("two processes migrating at once both succeed and apply each migration once", async () => {
    const [a, b] = [await client(), await client()];
    const ks = keyspace();
    const [ra, rb] = await Promise.all([
      migrate(a, { keyspace: ks, replication }),
      migrate(b, { keyspace: ks, replication }),
    ]);
    assert.ok(ra.ok, ra.ok ? "" : ra.error.message);
    assert.ok(rb.ok, rb.ok ? "" : rb.error.message);
    const files = await loadMigrations();
    assert.ok(files.ok);
    const appliedVersions = [...ra.value.applied, ...rb.value.applied].map((m) => m.version);
    assert.deepEqual(
      appliedVersions.sort(),
      files.value.map((m) => m.version),
    );
    assert.equal((await records(a, ks)).length, files.value.length);
  });

  it("a new migration is applied on top of those already applied", async () => {
    const c = await client();
    const ks = keyspace();
    const text = await initial();
    assert.ok(
      (
        await migrate(c, {
          keyspace: ks,
          replication,
          migrationsDir: await folder({ "0001_initial.cql": text }),
        })
      ).ok,
    );
    const extra = "CREATE TABLE IF NOT EXISTS extra (id text PRIMARY KEY, note text);";
    const dir = await folder({ "0001_initial.cql": text, "0002_extra.cql": extra });
    const result = await migrate(c, { keyspace: ks, replication, migrationsDir: dir });
    assert.ok(result.ok, result.ok ? "" : result.error.message);
    assert.deepEqual(result.value.applied, [
      { version: 2, name: "extra", checksum: checksumOf(extra) },
    ]);
    await c.execute(`INSERT INTO ${ks}.extra (id, note) VALUES ('a', 'b')`);
  });

  it("refuses to go on when an applied migration's file has changed", async () => {
    const c = await client();
    const ks = keyspace();
    assert.ok((await migrate(c, { keyspace: ks, replication })).ok);
    const changed = `${await initial()}\nCREATE TABLE IF NOT EXISTS sneaky (id text PRIMARY KEY);\n`;
    const dir = await folder({ "0001_initial.cql": changed });
    const result = await migrate(c, { keyspace: ks, replication, migrationsDir: dir });
    assert.equal(result.ok, false);
    assert.equal(result.ok ? "" : result.error.code, "MIGRATION_CHECKSUM_MISMATCH");
    const sneaky = await c.execute(
      "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'sneaky'",
      [ks],
    );
    assert.equal(sneaky.rowLength, 0, "nothing of the changed file was applied");
  });

  it("waits for another process's lock, gives up with a clear error, and goes on once it is free", async () => {
    const c = await client();
    const ks = keyspace();
    const text = await initial();
    assert.ok(
      (
        await migrate(c, {
          keyspace: ks,
          replication,
          migrationsDir: await folder({ "0001_initial.cql": text }),
        })
      ).ok,
    );
    await c.execute(
      `INSERT INTO ${ks}.schema_migrations (version, name) VALUES (-1, 'lock:someone-else') USING TTL 60`,
    );
    const dir = await folder({
      "0001_initial.cql": text,
      "0002_extra.cql": "CREATE TABLE IF NOT EXISTS extra (id text PRIMARY KEY);",
    });
    const blocked = await migrate(c, {
      keyspace: ks,
      replication,
      migrationsDir: dir,
      lockWaitMs: 500,
    });
    assert.equal(blocked.ok ? "" : blocked.error.code, "MIGRATION_LOCK_TIMEOUT");
    assert.deepEqual(
      (await records(c, ks)).filter((r) => r.version >= 0).map((r) => r.version),
      [1],
    );
    await c.execute(`DELETE FROM ${ks}.schema_migrations WHERE version = -1`);
    const freed = await migrate(c, { keyspace: ks, replication, migrationsDir: dir });
    assert.ok(freed.ok);
    assert.deepEqual(
      freed.value.applied.map((a) => a.version),
      [2],
    );
  });

  it("the CLI migrates from the environment and exits 0, and exits 1 on bad input", async () => {
    const c = await client();
    const ks = keyspace();
    const cli = fileURLToPath(new URL("../../migrate.ts", import.meta.url));
    const env = {
      ...process.env,
      CASSANDRA_CONTACT_POINTS: cassandraContactPoints().join(","),
      CASSANDRA_LOCAL_DC: cassandraLocalDc(),
      CASSANDRA_KEYSPACE: ks,
      CASSANDRA_REPLICATION_FACTOR: "1",
    };
    const run = promisify(execFile);
    await run(process.execPath, [cli], { env, timeout: 120_000 });
    const files = await loadMigrations();
    assert.ok(files.ok);
    assert.equal((await records(c, ks)).length, files.value.length);
    await assert.rejects(
      run(process.execPath, [cli], {
        env: { ...env, CASSANDRA_REPLICATION_FACTOR: "three" },
        timeout: 60_000,
      }),
      (err: { code?: number; stderr?: string }) =>
        err.code === 1 && /CASSANDRA_REPLICATION_FACTOR/.test(err.stderr ?? ""),
    );
  });
});

/** A fresh migrated keyspace on `client` and a store on it; dropped, and the client shut down, after. */
async function onFreshKeyspace(
  client: Client,
  name: string,
  use: (store: CassandraStore, keyspace: string) => Promise<void>,
): Promise<void> {
  const keyspace = uniqueName(name);
  try {
    const migrated = await migrate(client, { keyspace, replication });
    assert.ok(migrated.ok, migrated.ok ? "" : migrated.error.message);
    await use(new CassandraStore(client, keyspace), keyspace);
  } finally {
    await drop(client, keyspace);
    await client.shutdown();
  }
}

describe("CassandraStore's message writes (decision 0026)", () => {
  const roomId = randomUUID();
  const at = (seq: number) => new Date(1_700_000_000_000 + seq * 1000);
  const message = (seq: number, room = roomId) => ({
    roomId: room,
    seq,
    id: randomUUID(),
    senderId: "sender",
    clientMsgId: `c${seq}`,
    msgType: "text" as const,
    content: { text: `message ${seq}` },
    createdAt: at(seq),
  });
  /** A message's row alone, without its id row or state: what a writer stopped part way left. */
  const rowOnly = (keyspace: string, m: ReturnType<typeof message>) => ({
    query: `INSERT INTO ${keyspace}.messages (room_id, bucket, seq, id, sender_id, client_msg_id, msg_type, content_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    params: [
      m.roomId,
      Math.floor(m.seq / 1000),
      m.seq,
      m.id,
      m.senderId,
      m.clientMsgId,
      "text",
      m.content.text,
      m.createdAt,
    ],
  });
  let requests = 0;
  const counted = async (): Promise<Client> => {
    const c = new Client({
      contactPoints: cassandraContactPoints(),
      localDataCenter: cassandraLocalDc(),
      socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
      // the driver checks instanceof its RequestTracker class, which its types call an
      // interface: a RequestLogger (one) that counts instead of logging
      requestTracker: new (class extends tracker.RequestLogger {
        override onSuccess(): void {
          requests++;
        }
        override onError(): void {
          requests++;
        }
      })({}),
    });
    await c.connect();
    return c;
  };
  const requestsOf = async (call: () => Promise<unknown>): Promise<number> => {
    const before = requests;
    await call();
    return requests - before;
  };

  it("a message is one request, a write of a room's messages one per bucket, plus its state where a bucket opens", async () => {
    await onFreshKeyspace(await counted(), "writes", async (store) => {
      assert.equal(await requestsOf(() => store.persistMessage(message(1))), 1);
      assert.equal(
        await requestsOf(() => store.persistMessages([2, 3, 4].map((s) => message(s)))),
        1,
      );
      // 998-999 in bucket 0, 1000-1001 in bucket 1, then the state naming seq 1000
      assert.equal(
        await requestsOf(() =>
          store.persistMessages([998, 999, 1000, 1001].map((s) => message(s))),
        ),
        3,
      );
      assert.deepEqual((await store.roomStates([roomId])).get(roomId), {
        roomId,
        lastSeq: 1001,
        lastActivity: at(1001),
      });
    });
  });

  it("a page after a seq is two requests (the state and its bucket), the latest page three (two in bucket 0); both find rows past a bucket whose state is not written yet", async () => {
    const client = await counted();
    await onFreshKeyspace(client, "pages", async (store, keyspace) => {
      for (let first = 1; first <= 30; first += 10) {
        await store.persistMessages(Array.from({ length: 10 }, (_, i) => message(first + i)));
      }
      const seqs = (page: readonly { seq: number }[]) => page.map((m) => m.seq);
      let page: readonly { seq: number }[] = [];
      const fetch = (q: Parameters<typeof store.history>[1]) => async () => {
        page = await store.history(roomId, q);
      };
      assert.equal(await requestsOf(fetch({ after: 10, limit: 5 })), 2);
      assert.deepEqual(seqs(page), [11, 12, 13, 14, 15]);
      assert.equal(await requestsOf(fetch({ limit: 5 })), 3);
      assert.deepEqual(seqs(page), [26, 27, 28, 29, 30]);
      assert.equal(await requestsOf(fetch({ before: 4, limit: 5 })), 2);
      assert.deepEqual(seqs(page), [1, 2, 3]);
      let latest = { lastSeq: 0, messages: page };
      const readLatest = async () => {
        latest = await store.latest(roomId, 5);
      };
      assert.equal(await requestsOf(readLatest), 3, "latest is the latest page's requests");
      assert.deepEqual([latest.lastSeq, seqs(latest.messages)], [30, [26, 27, 28, 29, 30]]);

      // rows up to 2,003 with the state still naming bucket 0: the writes of 1000-1999 and of
      // 2000-2003 landed, their states did not (a writer stopped twice before its state)
      const rows = Array.from({ length: 2_003 - 30 }, (_, i) => message(31 + i));
      for (let i = 0; i < rows.length; i += 50) {
        await client.batch(
          rows.slice(i, i + 50).map((m) => rowOnly(keyspace, m)),
          { prepare: true, logged: false },
        );
      }
      await fetch({ limit: 3 })();
      assert.deepEqual(seqs(page), [2_001, 2_002, 2_003]);
      await readLatest();
      assert.equal(latest.lastSeq, 2_003);
      await fetch({ after: 995, limit: 10 })();
      assert.deepEqual(seqs(page), [996, 997, 998, 999, 1_000, 1_001, 1_002, 1_003, 1_004, 1_005]);
      await fetch({ after: 1_997, limit: 10 })();
      assert.deepEqual(seqs(page), [1_998, 1_999, 2_000, 2_001, 2_002, 2_003]);
      await fetch({ before: 1_002, limit: 4 })();
      assert.deepEqual(seqs(page), [998, 999, 1_000, 1_001]);
    });
  });

  it("a room's last seq is its newest row's: when a writer stopped before the state, and in a state written before 0006", async () => {
    const client = await connect();
    await onFreshKeyspace(client, "state", async (store, keyspace) => {
      const row = (m: ReturnType<typeof message>) => {
        const { query, params } = rowOnly(keyspace, m);
        return client.execute(query, params, { prepare: true });
      };
      // a writer killed after the rows that open bucket 1, before its state
      const first = [985, 986].map((s) => message(s));
      const inFlight = Array.from({ length: 16 }, (_, i) => message(987 + i)); // to 1002
      await store.persistMessages(first);
      for (const m of inFlight) await row(m);
      assert.deepEqual((await store.roomStates([roomId])).get(roomId), {
        roomId,
        lastSeq: 1002,
        lastActivity: at(1002),
      });
      assert.deepEqual(
        (await store.history(roomId, { limit: 100 })).map((m) => m.seq),
        [...first, ...inFlight].map((m) => m.seq),
      );
      assert.deepEqual(
        (await store.history(roomId, { after: 986, limit: 100 })).map((m) => m.seq),
        inFlight.map((m) => m.seq),
      );
      // the next write goes on from there, and sets the state the killed one did not
      const next = message(1003);
      await store.persistMessage(next);
      assert.equal((await store.roomStates([roomId])).get(roomId)?.lastSeq, 1003);
      assert.deepEqual(await store.messageById(roomId, next.id), next);

      // before 0006 the state held the last seq itself (written with every message)
      const old = randomUUID();
      const oldRows = [2_498, 2_499, 2_500].map((s) => message(s, old));
      for (const m of oldRows) await row(m);
      await client.execute(
        `INSERT INTO ${keyspace}.room_state (room_id, last_seq, last_activity) VALUES (?, ?, ?) USING TIMESTAMP ?`,
        [old, 2_500, at(2_500), 2_500],
        { prepare: true },
      );
      assert.equal((await store.roomStates([old])).get(old)?.lastSeq, 2_500);
      assert.equal((await store.latest(old, 1)).lastSeq, 2_500);
      assert.deepEqual(
        (await store.history(old, { limit: 100 })).map((m) => m.seq),
        [2_498, 2_499, 2_500],
      );
    });
  });
});
