// Smoke suite: cassandra-driver against the real Cassandra 5.0 that hack/stack starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, types } from "cassandra-driver";
import { cassandraContactPoints, cassandraLocalDc, uniqueName } from "../testkit/index.ts";

// Metadata#checkSchemaAgreement exists in cassandra-driver 4.10 but its typings omit it.
const schemaAgreement = (c: Client): Promise<boolean> =>
  (c.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> }).checkSchemaAgreement();

describe("cassandra (real node)", () => {
  const keyspace = uniqueName("smoke");
  let client: Client;

  before(async () => {
    client = new Client({
      contactPoints: cassandraContactPoints(),
      localDataCenter: cassandraLocalDc(),
      socketOptions: { readTimeout: 30_000 },
    });
    await client.connect();
  });

  after(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client.shutdown();
  });

  it("creates a keyspace and a table, and the schema is agreed", async () => {
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(
      `CREATE TABLE ${keyspace}.messages (room_id uuid, seq bigint, body text, PRIMARY KEY (room_id, seq)) WITH CLUSTERING ORDER BY (seq DESC)`,
    );
    assert.equal(await schemaAgreement(client), true);
    const table = await client.metadata.getTable(keyspace, "messages");
    assert.deepEqual(table?.columns.map((c) => c.name).toSorted(), ["body", "room_id", "seq"]);
  });

  it("writes with prepared statements and reads back in clustering order, page by page", async () => {
    const room = types.Uuid.random();
    const insert = `INSERT INTO ${keyspace}.messages (room_id, seq, body) VALUES (?, ?, ?)`;
    for (let seq = 1; seq <= 25; seq++) {
      await client.execute(insert, [room, types.Long.fromNumber(seq), `m${seq}`], {
        prepare: true,
      });
    }
    const seen: number[] = [];
    let pageState: string | undefined;
    do {
      const rs = await client.execute(
        `SELECT seq FROM ${keyspace}.messages WHERE room_id = ?`,
        [room],
        { prepare: true, fetchSize: 10, ...(pageState === undefined ? {} : { pageState }) },
      );
      for (const row of rs.rows) seen.push((row.get("seq") as types.Long).toNumber());
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, i) => 25 - i),
    );
  });

  it("applies a lightweight transaction once", async () => {
    const room = types.Uuid.random();
    const lwt = `INSERT INTO ${keyspace}.messages (room_id, seq, body) VALUES (?, 1, ?) IF NOT EXISTS`;
    const first = await client.execute(lwt, [room, "first"], { prepare: true });
    const second = await client.execute(lwt, [room, "second"], { prepare: true });
    assert.equal(first.wasApplied(), true);
    assert.equal(second.wasApplied(), false);
    const rs = await client.execute(
      `SELECT body FROM ${keyspace}.messages WHERE room_id = ? AND seq = 1`,
      [room],
      { prepare: true },
    );
    assert.equal(rs.first()?.get("body"), "first");
  });
});
