// Component benchmark: what Cassandra's CPU per request is made of. On a Cassandra of its own
// (hack/parts/cassandra.sh), requests are sent at a fixed pace, one at a time (a single-row
// INSERT, or the forwarder's write of one message into one of 100 rooms: CassandraStore.persistMessage), then as
// fast as they go from many writers, and the node's CPU is read per thread from /proc. Its
// request threads (Native-Transport-Requests, MutationStage: one shared pool whose idle
// workers wait in short sleeps of ~10 µs for up to ~10 ms before they park) are reported apart
// from the rest, so that a cost of the pace shows as such. `--timer-slack-us N` repeats the
// paced rows with the node's threads' timer slack at N µs (root only; the kernel then lets a
// short sleep last up to N µs longer, so fewer wake-ups). `node bench/cassandra-pace.ts
// [--seconds 8] [--paces-ms 100,30,10,3,1,0] [--timer-slack-us 1000] [--name cassandra-pace]`
// (results in bench/results/<name>.md and .json).
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Client } from "cassandra-driver";
import { migrate } from "#contract/schema/migrate";
import { OwnPart } from "../e2e/testkit/index.ts";
import { CassandraStore } from "../workloads/shared/backends/store.cassandra.ts";
import type { StoredMessage } from "../workloads/shared/domain.ts";
import { newHistogram, record, summarize } from "./lib/histogram.ts";
import { load, round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    "paces-ms": { type: "string", default: "100,30,10,3,1,0" },
    "timer-slack-us": { type: "string", default: "" },
    name: { type: "string", default: "cassandra-pace" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(
    "node bench/cassandra-pace.ts [--seconds 8] [--paces-ms 100,30,10,3,1,0] [--timer-slack-us 1000] [--name cassandra-pace]",
  );
  process.exit(0);
}
const seconds = Number(a.seconds);
const paces = String(a["paces-ms"]).split(",").map(Number);
const slackUs = a["timer-slack-us"] === "" ? undefined : Number(a["timer-slack-us"]);
if (!(seconds > 0) || paces.some((p) => !(p >= 0)) || (slackUs !== undefined && !(slackUs > 0))) {
  throw new Error("--seconds must be > 0, --paces-ms ≥ 0 each, --timer-slack-us > 0");
}
const run = beginRun(String(a.name));
const keyspace = "bench_pace";
const TICK_MS = 10; // CLK_TCK 100

/** CPU ms of each thread of a process, with its name. */
function threads(pid: number): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
      out.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Request threads: the shared pool's workers, renamed after the stage they last served. */
const REQUEST_THREAD = /^(Native-Transport|MutationStage|ReadStage|SharedPool)/;

/** CPU ms between two samples: all of it, and the part in the request threads. */
function cpuBetween(
  before: Map<string, { name: string; ms: number }>,
  after: Map<string, { name: string; ms: number }>,
): { total: number; request: number } {
  let total = 0;
  let request = 0;
  for (const [tid, t] of after) {
    const was = before.get(tid);
    const ms = t.ms - (was?.ms ?? 0);
    total += ms;
    if (REQUEST_THREAD.test(t.name) || (was !== undefined && REQUEST_THREAD.test(was.name))) {
      request += ms;
    }
  }
  return { total, request }; // a thread that ended in between is not counted
}

function setTimerSlack(pid: number, ns: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      writeFileSync(`/proc/${tid}/timerslack_ns`, String(ns));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // ENOENT: it ended
    }
  }
}

interface Row {
  kind: string;
  pace: string;
  slack: string;
  sendsPerSec: number;
  cpuCores: number;
  requestThreadsShare: number;
  cpuMsPerSend: number;
  p50: number;
  p99: number;
  load1: number;
}

type Send = (i: number) => Promise<unknown>;

async function measure(
  pid: number,
  kind: string,
  slack: string,
  pace: string,
  body: () => Promise<number>,
  latency: ReturnType<typeof newHistogram>,
): Promise<Row> {
  const c0 = threads(pid);
  const t0 = performance.now();
  const sent = await body();
  const s = (performance.now() - t0) / 1000;
  const { total, request } = cpuBetween(c0, threads(pid));
  const sum = summarize(latency);
  const row: Row = {
    kind,
    pace,
    slack,
    sendsPerSec: Math.round(sent / s),
    cpuCores: round3(total / 1000 / s),
    requestThreadsShare: total === 0 ? 0 : Math.round((request / total) * 100),
    cpuMsPerSend: round3(total / sent),
    p50: sum.p50,
    p99: sum.p99,
    load1: load()[0],
  };
  console.log(JSON.stringify(row));
  return row;
}

/** One send at a time, `paceMs` apart (0: back to back), for `seconds`. */
function paced(send: Send, paceMs: number, latency: ReturnType<typeof newHistogram>) {
  return async (): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let i = 0;
    while (performance.now() < end) {
      const t = performance.now();
      await send(i++);
      record(latency, performance.now() - t);
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
    return i;
  };
}

/** `writers` sends in flight at all times, for `seconds`. */
function flooded(send: Send, writers: number, latency: ReturnType<typeof newHistogram>) {
  return async (): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let i = 0;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await send(i++);
          record(latency, performance.now() - t);
        }
      }),
    );
    return i;
  };
}

// the kernel's default timer slack to begin with (hack/parts/cassandra.sh raises it otherwise)
const cassandra = await OwnPart.start("cassandra", { SB_CASSANDRA_TIMER_SLACK_US: "0" });
const contact = `127.0.0.1:${cassandra.port}`;
const rows: Row[] = [];
let idleCores = 0;
try {
  const pid = cassandra.pid();
  const client = new Client({ contactPoints: [contact], localDataCenter: "datacenter1" });
  const migrated = await migrate(client, {
    keyspace,
    replication: { class: "SimpleStrategy", replicationFactor: 1 },
  });
  if (!migrated.ok) throw migrated.error;
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.kv (k text, c int, v text, PRIMARY KEY (k, c))`,
  );
  const store = await CassandraStore.connect({
    contactPoints: [contact],
    localDataCenter: "datacenter1",
    keyspace,
  });
  try {
    const insert = `INSERT INTO ${keyspace}.kv (k, c, v) VALUES (?, ?, ?)`;
    const one: Send = (i) =>
      client.execute(insert, [`k${i % 1000}`, i, "hello there"], { prepare: true });
    const batch10: Send = (i) =>
      client.batch(
        Array.from({ length: 10 }, (_, j) => ({
          query: insert,
          params: [`k${i % 1000}`, i * 10 + j, "hello there"],
        })),
        { prepare: true, logged: false },
      );
    // ten rows of ten partitions in one request (what a write shared by ten rooms sends)
    const spread10: Send = (i) =>
      client.batch(
        Array.from({ length: 10 }, (_, j) => ({
          query: insert,
          params: [`s${i * 10 + j}`, i, "hello there"],
        })),
        { prepare: true, logged: false },
      );
    const rooms = Array.from({ length: 100 }, () => randomUUID());
    const message: Send = (i) => {
      const m: StoredMessage = {
        roomId: rooms[i % rooms.length] ?? "",
        seq: Math.floor(i / rooms.length) + 1,
        id: randomUUID(),
        senderId: "bench",
        clientMsgId: `c${i}`,
        msgType: "text",
        content: { text: "hello there, how is the benchmark going today?" },
        createdAt: new Date(),
      };
      return store.persistMessage(m);
    };
    // warm the JVM and the prepared statements, then let the node go quiet
    await flooded(one, 16, newHistogram())();
    await flooded(message, 16, newHistogram())();
    await new Promise((r) => setTimeout(r, 3_000));
    {
      const c0 = threads(pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      idleCores = round3(cpuBetween(c0, threads(pid)).total / (performance.now() - t0));
      console.log(JSON.stringify({ idleCores }));
    }
    const slacks: [string, number | undefined][] = [["default (50 µs)", undefined]];
    if (slackUs !== undefined) slacks.push([`${slackUs} µs`, slackUs * 1000]);
    for (const [slack, ns] of slacks) {
      if (ns !== undefined) setTimerSlack(pid, ns);
      try {
        for (const pace of paces) {
          const label = pace === 0 ? "back to back" : `every ${pace} ms`;
          const h = newHistogram();
          rows.push(await measure(pid, "1 INSERT", slack, label, paced(one, pace, h), h));
        }
        for (const pace of [10, 0].filter((p) => paces.includes(p))) {
          const label = pace === 0 ? "back to back" : `every ${pace} ms`;
          const h = newHistogram();
          rows.push(
            await measure(
              pid,
              "1 message (persistMessage)",
              slack,
              label,
              paced(message, pace, h),
              h,
            ),
          );
        }
        const h1 = newHistogram();
        rows.push(await measure(pid, "1 INSERT", slack, "64 writers", flooded(one, 64, h1), h1));
        const h3 = newHistogram();
        rows.push(
          await measure(
            pid,
            "1 message (persistMessage)",
            slack,
            "64 writers",
            flooded(message, 64, h3),
            h3,
          ),
        );
        const h2 = newHistogram();
        rows.push(
          await measure(
            pid,
            "unlogged batch of 10 INSERTs (one partition)",
            slack,
            "64 writers",
            flooded(batch10, 64, h2),
            h2,
          ),
        );
        const h4 = newHistogram();
        rows.push(
          await measure(
            pid,
            "unlogged batch of 10 INSERTs (10 partitions)",
            slack,
            "64 writers",
            flooded(spread10, 64, h4),
            h4,
          ),
        );
      } finally {
        if (ns !== undefined) setTimerSlack(pid, 0); // back to the default
      }
    }
  } finally {
    await store.close();
    await client.shutdown();
  }
} finally {
  await cassandra.stop();
}

const body = table(
  [
    "a send",
    "pace",
    "timer slack",
    "sends/s",
    "Cassandra CPU (cores)",
    "of it in request threads",
    "CPU ms per send",
    "p50 ms",
    "p99 ms",
    "load 1m",
  ],
  rows.map((r) => [
    r.kind,
    r.pace,
    r.slack,
    r.sendsPerSec,
    r.cpuCores,
    `${r.requestThreadsShare} %`,
    r.cpuMsPerSend,
    r.p50,
    r.p99,
    r.load1,
  ]),
);
const out = writeResults(run, { seconds, paces, slackUs }, { idleCores, rows }, [
  {
    title: "Cassandra's CPU by request pace",
    body:
      `Idle (no client requests): ${idleCores} cores. A send is one request, but for a message ` +
      "(CassandraStore.persistMessage: since 0026 one request, its row and its id row in its " +
      "room's partition, and once per 1,000 seqs its room's state). Latency " +
      "is per send as the client sees it.\n\n" +
      body,
  },
]);
console.log(body);
console.log(`wrote ${out.md}`);
