// An acknowledged write survives Cassandra's crash: messages are persisted the way the forwarder
// persists them, Cassandra is SIGKILLed while writes are in flight, restarted on the same data,
// and every write it acknowledged must be there, with its seq. Runs on a Cassandra of its own
// (hack/parts/cassandra.sh with the config hack/stack uses), never on the shared one.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "cassandra-driver";
import { CassandraStore } from "../../workloads/shared/backends/store.cassandra.ts";
import type { StoredMessage } from "../../workloads/shared/domain.ts";
import { migrate } from "../../workloads/shared/schema/migrate.ts";
import { OwnPart, uniqueName, waitFor } from "../testkit/index.ts";

const IN_FLIGHT = 16;
/** acknowledged writes before the kill */
const ACKED_BEFORE_KILL = 1_500;

describe("Cassandra crash (own node)", () => {
  let cassandra: OwnPart;
  const keyspace = uniqueName("crash");

  const connect = async (): Promise<CassandraStore> =>
    waitFor(
      "a CQL session on the own Cassandra",
      () =>
        CassandraStore.connect({
          contactPoints: [`127.0.0.1:${cassandra.port}`],
          localDataCenter: "datacenter1",
          keyspace,
          timeoutMs: 5_000,
        }),
      { timeoutMs: 60_000, intervalMs: 500 },
    );

  before(async () => {
    cassandra = await OwnPart.start("cassandra");
    const client = new Client({
      contactPoints: [`127.0.0.1:${cassandra.port}`],
      localDataCenter: "datacenter1",
    });
    try {
      const migrated = await migrate(client, {
        keyspace,
        replication: { class: "SimpleStrategy", replicationFactor: 1 },
      });
      if (!migrated.ok) throw migrated.error;
    } finally {
      await client.shutdown();
    }
  });

  after(async () => {
    await cassandra?.stop();
  });

  it("keeps every message it acknowledged before a SIGKILL", async () => {
    const store = await connect();
    const roomIds = Array.from({ length: IN_FLIGHT }, () => randomUUID());
    const acked: StoredMessage[] = [];
    let killed: Promise<void> | undefined;
    // one writer per room, each giving its room's next seq as the forwarder does
    await Promise.all(
      roomIds.map(async (roomId) => {
        for (let seq = 1; killed === undefined; seq++) {
          const m: StoredMessage = {
            roomId,
            seq,
            id: randomUUID(),
            senderId: "writer",
            clientMsgId: `c${seq}`,
            msgType: "text",
            content: { text: `message ${seq}` },
            createdAt: new Date(),
          };
          try {
            await store.persistMessage(m);
          } catch {
            return; // not acknowledged: the node is gone
          }
          acked.push(m);
          if (acked.length >= ACKED_BEFORE_KILL && killed === undefined) killed = cassandra.kill();
        }
      }),
    );
    assert.ok(killed !== undefined, "Cassandra was killed while writes were in flight");
    await killed;
    await store.close();

    await cassandra.up();
    const after = await connect();
    try {
      const lost: string[] = [];
      for (const m of acked) {
        const found = await after.getMessageById(m.id);
        if (found?.seq !== m.seq || found.roomId !== m.roomId) lost.push(`${m.roomId}#${m.seq}`);
      }
      assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes lost`);
      const states = await after.roomStates(roomIds);
      for (const roomId of roomIds) {
        const highest = Math.max(0, ...acked.filter((m) => m.roomId === roomId).map((m) => m.seq));
        assert.ok(
          (states.get(roomId)?.lastSeq ?? 0) >= highest,
          `room ${roomId}: last seq went back below ${highest}`,
        );
      }
    } finally {
      await after.close();
    }
  });
});
