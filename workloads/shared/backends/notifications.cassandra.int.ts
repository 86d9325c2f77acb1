// CassandraNotificationStore against the real Cassandra of hack/stack: the NotificationStore
// contract on a fresh keyspace made by migrate() (so 0002_notifications.cql is applied as the
// operator would). The keyspace is dropped again.
import assert from "node:assert/strict";
import { Client } from "cassandra-driver";
import { migrate } from "#contract/schema/migrate";
import {
  cassandraContactPoints,
  cassandraLocalDc,
  uniqueName,
} from "../../../e2e/testkit/index.ts";
import { CassandraNotificationStore } from "./notifications.cassandra.ts";
import { notificationStoreContract } from "./notifications.contract.ts";

notificationStoreContract("cassandra", async () => {
  const client = new Client({
    contactPoints: cassandraContactPoints(),
    localDataCenter: cassandraLocalDc(),
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
  });
  await client.connect();
  const keyspace = uniqueName("notify");
  try {
    const migrated = await migrate(client, {
      keyspace,
      replication: { class: "SimpleStrategy", replicationFactor: 1 },
    });
    assert.ok(migrated.ok, migrated.ok ? "" : migrated.error.message);
    assert.ok(migrated.value.version >= 2, `0002_notifications applied: ${migrated.value.version}`);
  } catch (err) {
    // an open client keeps the test file from ever exiting (CI hung here on a version check)
    await client.shutdown();
    throw err;
  }
  const subject = new CassandraNotificationStore(client, keyspace);
  return {
    subject,
    cleanup: async () => {
      await subject.close();
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 60_000 });
      await client.shutdown();
    },
  };
});
