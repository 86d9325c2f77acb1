// Component benchmark: what a durable commit log costs the forwarder's write. For each
// commit-log mode, a Cassandra of its own (hack/parts/cassandra.sh, SB_CASSANDRA_COMMITLOG_SYNC)
// takes the forwarder's message write (CassandraStore.persistMessage: one logged batch of three
// inserts) from 1 writer, then from many at once, and reports latency, writes/s and Cassandra's
// CPU per write. `node bench/commitlog.ts [--modes periodic,group,batch] [--writes 2000]
// [--concurrency 1,16,64] [--window-ms 2]`.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Client, types } from "cassandra-driver";
import { migrate } from "#contract/schema/migrate";
import { OwnPart } from "../e2e/testkit/index.ts";
import { CassandraStore } from "../workloads/shared/backends/store.cassandra.ts";
import type { StoredMessage } from "../workloads/shared/domain.ts";
import { newHistogram, record, summarize } from "./lib/histogram.ts";
import { load, procSample, round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    modes: { type: "string", default: "periodic,group,batch" },
    writes: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "1,16,64" },
    "window-ms": { type: "string", default: "2" },
  },
});
const modes = String(a.modes).split(",");
const writes = Number(a.writes);
const levels = String(a.concurrency).split(",").map(Number);
const windowMs = String(a["window-ms"]);
const run = beginRun("commitlog");
const keyspace = "bench_commitlog";

interface Row {
  mode: string;
  concurrency: number;
  writesPerSec: number;
  p50: number;
  p99: number;
  cassandraCpuMsPerWrite: number;
  load1: number;
}

async function measure(mode: string): Promise<Row[]> {
  const env: Record<string, string> = { SB_CASSANDRA_COMMITLOG_SYNC: mode };
  if (mode === "group") env.SB_CASSANDRA_COMMITLOG_GROUP_WINDOW_MS = windowMs;
  const cassandra = await OwnPart.start("cassandra", env);
  const contact = `127.0.0.1:${cassandra.port}`;
  try {
    const client = new Client({ contactPoints: [contact], localDataCenter: "datacenter1" });
    const sync = await client.execute(
      "SELECT value FROM system_views.settings WHERE name = 'commitlog_sync'",
    );
    console.log(`${mode}: the node says commitlog_sync=${sync.first()?.get("value")}`);
    const migrated = await migrate(client, {
      keyspace,
      replication: { class: "SimpleStrategy", replicationFactor: 1 },
    });
    await client.shutdown();
    if (!migrated.ok) throw migrated.error;
    const store = await CassandraStore.connect({
      contactPoints: [contact],
      localDataCenter: "datacenter1",
      keyspace,
    });
    const rows: Row[] = [];
    try {
      await writeMany(store, 500, 8); // warm the JVM and the prepared statements
      for (const concurrency of levels) {
        const before = procSample(cassandra.pid())?.cpuSec ?? 0;
        const t0 = performance.now();
        const h = await writeMany(store, writes, concurrency);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = (procSample(cassandra.pid())?.cpuSec ?? 0) - before;
        const s = summarize(h);
        const row: Row = {
          mode: mode === "group" ? `group (${windowMs} ms)` : mode,
          concurrency,
          writesPerSec: Math.round(writes / seconds),
          p50: s.p50,
          p99: s.p99,
          cassandraCpuMsPerWrite: round3((cpu * 1000) / writes),
          load1: load()[0],
        };
        console.log(JSON.stringify(row));
        rows.push(row);
      }
      // the alternative the decision weighs: a Paxos round per message to claim (room, seq)
      const lwtClient = new Client({ contactPoints: [contact], localDataCenter: "datacenter1" });
      try {
        const concurrency = levels[Math.floor(levels.length / 2)] ?? 16;
        const before = procSample(cassandra.pid())?.cpuSec ?? 0;
        const t0 = performance.now();
        const h = await claimMany(lwtClient, writes, concurrency);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = (procSample(cassandra.pid())?.cpuSec ?? 0) - before;
        const sum = summarize(h);
        const row: Row = {
          mode: `${mode === "group" ? `group (${windowMs} ms)` : mode} + LWT claim of (room, seq)`,
          concurrency,
          writesPerSec: Math.round(writes / seconds),
          p50: sum.p50,
          p99: sum.p99,
          cassandraCpuMsPerWrite: round3((cpu * 1000) / writes),
          load1: load()[0],
        };
        console.log(JSON.stringify(row));
        rows.push(row);
      } finally {
        await lwtClient.shutdown();
      }
    } finally {
      await store.close();
    }
    return rows;
  } finally {
    await cassandra.stop();
  }
}

async function writeMany(store: CassandraStore, n: number, concurrency: number) {
  const h = newHistogram();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const roomId = randomUUID();
      for (let seq = 1; next < n; seq++) {
        next++;
        const m: StoredMessage = {
          roomId,
          seq,
          id: randomUUID(),
          senderId: "bench",
          clientMsgId: `c${seq}`,
          msgType: "text",
          content: { text: "hello there, how is the benchmark going today?" },
          createdAt: new Date(),
        };
        const t = performance.now();
        await store.persistMessage(m);
        record(h, performance.now() - t);
      }
    }),
  );
  return h;
}

/** INSERT ... IF NOT EXISTS of the message row alone: what an LWT per message costs. */
async function claimMany(client: Client, n: number, concurrency: number) {
  const h = newHistogram();
  let next = 0;
  const query =
    `INSERT INTO ${keyspace}.messages (room_id, bucket, seq, id, sender_id, client_msg_id, ` +
    "msg_type, content_text, created_at) VALUES (?, 0, ?, ?, 'bench', ?, 'text', ?, ?) IF NOT EXISTS";
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const roomId = randomUUID();
      for (let seq = 1; next < n; seq++) {
        next++;
        const t = performance.now();
        await client.execute(
          query,
          [roomId, seq, randomUUID(), `c${seq}`, "hello there", new Date()],
          {
            prepare: true,
            consistency: types.consistencies.localQuorum,
            serialConsistency: types.consistencies.localSerial,
          },
        );
        record(h, performance.now() - t);
      }
    }),
  );
  return h;
}

const rows: Row[] = [];
for (const mode of modes) rows.push(...(await measure(mode)));
const body = table(
  ["commit log", "writers", "writes/s", "p50 ms", "p99 ms", "Cassandra CPU ms/write", "load 1m"],
  rows.map((r) => [
    r.mode,
    r.concurrency,
    r.writesPerSec,
    r.p50,
    r.p99,
    r.cassandraCpuMsPerWrite,
    r.load1,
  ]),
);
const out = writeResults(run, { modes, writes, levels, windowMs }, { rows }, [
  {
    title: "The forwarder's message write (one logged batch of 3 inserts) per commit-log mode",
    body,
  },
]);
console.log(body);
console.log(`wrote ${out.md}`);
