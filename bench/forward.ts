// Component benchmark: the forwarder's persist-and-route step (Forwarder.handleBatch in
// workloads/forwarder/forwarder.ts): decode each record, sequence it in its room, store it and
// route it to the room's gateways. Batches of 1 to 1,000 messages over 100 rooms, handed one at
// a time (each batch's time is the step's latency) and 16 at a time (as the bus pipelines), on
// two sets of backends:
// - memory: the in-memory store, registry and a delivery that counts — the forwarder's own CPU;
// - real (--real): Cassandra (a keyspace of its own) and Redis (registry and pub/sub, a
//   namespace of its own) of the shared stack, whose CPU per message is measured too.
// `node bench/forward.ts --help`.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Client } from "cassandra-driver";
import { Redis } from "ioredis";
import { migrate } from "#contract/schema/migrate";
import { createLogger } from "#contract/telemetry/log";
import { cassandraContactPoints, cassandraLocalDc, redisUrl } from "../e2e/testkit/stack.ts";
import { waitFor } from "../e2e/testkit/wait.ts";
import { Forwarder } from "../workloads/forwarder/forwarder.ts";
import { MemoryBus } from "../workloads/shared/backends/bus.memory.ts";
import type { ConsumedBatch } from "../workloads/shared/backends/bus.ts";
import { RedisDelivery } from "../workloads/shared/backends/delivery.redis.ts";
import type { Delivery } from "../workloads/shared/backends/delivery.ts";
import { MemoryRegistry } from "../workloads/shared/backends/registry.memory.ts";
import { RedisRegistry } from "../workloads/shared/backends/registry.redis.ts";
import { REGISTRY_SETTLE_MS, type Registry } from "../workloads/shared/backends/registry.ts";
import { CassandraStore } from "../workloads/shared/backends/store.cassandra.ts";
import { MemoryStore } from "../workloads/shared/backends/store.memory.ts";
import type { Store } from "../workloads/shared/backends/store.ts";
import { type BusEvent, encode } from "../workloads/shared/events.ts";
import { createMetrics } from "../workloads/shared/telemetry/metrics.ts";
import { type LatencySummary, newHistogram, record, summarize } from "./lib/histogram.ts";
import { cpuMeter, round3, stackPids } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    rooms: { type: "string", default: "100" },
    batches: { type: "string", default: "1,10,100,1000" },
    messages: { type: "string", default: "20000" },
    "real-messages": { type: "string", default: "2000" },
    real: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(`node bench/forward.ts [--rooms 100] [--batches 1,10,100,1000 (messages per batch)]
  [--messages 20000 (per run, memory)] [--real (also on the shared Cassandra and Redis)]
  [--real-messages 2000 (per run, real)]
Writes bench/results/forward.json and .md.`);
  process.exit(0);
}
const rooms = Number(a.rooms);
const batchSizes = (a.batches ?? "").split(",").map(Number);
const GATEWAYS = ["gw-a", "gw-b"];
const run = beginRun("forward");

const roomIds = Array.from(
  { length: rooms },
  (_, r) => `0b8a4f7e-2d7c-4c61-9d0e-${String(r).padStart(12, "0")}`,
);
let nextMessage = 0;
const messageEvent = (roomId: string): BusEvent => {
  const n = nextMessage++;
  return {
    kind: "message",
    id: `9f1c2d3e-4b5a-4c6d-8e7f-${n.toString(16).padStart(12, "0")}`,
    roomId,
    senderId: "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d",
    clientMsgId: `c-${n}`,
    msgType: "text",
    content: { text: "hello there, how is the benchmark going today?" },
    sentAt: new Date().toISOString(),
  };
};
let offset = 0;
/** `count` messages over the rooms, round robin, as batches of `size` from one partition. */
const batchesOf = (count: number, size: number): ConsumedBatch[] => {
  const out: ConsumedBatch[] = [];
  for (let i = 0; i < count; i += size) {
    const records = [];
    for (let k = i; k < Math.min(i + size, count); k++) {
      const roomId = roomIds[k % rooms] as string;
      records.push({
        key: roomId,
        value: encode(messageEvent(roomId)),
        headers: {},
        offset: String(offset++),
      });
    }
    out.push({ topic: "bench", partition: 0, records });
  }
  return out;
};

interface Backends {
  readonly store: Store;
  readonly registry: Registry;
  readonly delivery: Delivery;
  /** payloads the gateways received so far */
  readonly routed: () => number;
  /** the backends' processes, for their CPU */
  readonly pids: Record<string, number>;
  close(): Promise<void>;
}

async function memory(): Promise<Backends> {
  let routed = 0;
  const delivery: Delivery = {
    send: async () => {
      routed++;
      return 1;
    },
    sendMany: async (items) => {
      routed += items.length;
    },
    listen: async () => async () => {},
    ping: async () => {},
    close: async () => {},
  };
  const registry = new MemoryRegistry();
  for (const g of GATEWAYS) await registry.subscribeRooms(g, roomIds, 3_600_000);
  return {
    store: new MemoryStore(),
    registry,
    delivery,
    routed: () => routed,
    pids: {},
    close: async () => {},
  };
}

async function real(): Promise<Backends> {
  const keyspace = `bench_fwd_${randomBytes(4).toString("hex")}`;
  const namespace = `sb:${keyspace}:`;
  const contactPoints = cassandraContactPoints();
  const localDataCenter = cassandraLocalDc();
  const admin = new Client({ contactPoints: [...contactPoints], localDataCenter });
  const migrated = await migrate(admin, {
    keyspace,
    replication: { class: "SimpleStrategy", replicationFactor: 1 },
  });
  if (!migrated.ok) throw migrated.error;
  const store = await CassandraStore.connect({ contactPoints, localDataCenter, keyspace });
  const url = redisUrl();
  const registry = RedisRegistry.connect(url, { namespace });
  const delivery = RedisDelivery.connect(url, { namespace });
  let routed = 0;
  const listeners = await Promise.all(
    GATEWAYS.map((g) =>
      delivery.listen(g, () => {
        routed++;
      }),
    ),
  );
  for (const g of GATEWAYS) await registry.subscribeRooms(g, roomIds, 3_600_000);
  const { cassandra, redis } = stackPids();
  return {
    store,
    registry,
    delivery,
    routed: () => routed,
    pids: {
      ...(cassandra === undefined ? {} : { cassandra }),
      ...(redis === undefined ? {} : { redis }),
    },
    close: async () => {
      for (const stop of listeners) await stop();
      await Promise.allSettled([store.close(), registry.close(), delivery.close()]);
      const r = new Redis(url, { lazyConnect: true });
      await r.connect();
      const keys = await r.keys(`${namespace}*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).finally(() => admin.shutdown());
    },
  };
}

interface Row {
  backends: "memory" | "real";
  batchSize: number;
  inFlight: number;
  messages: number;
  messagesPerS: number;
  batchMs: LatencySummary;
  forwarderUsPerMessage: number;
  backendUsPerMessage: Record<string, number>;
}

/** Hands `count` messages to a fresh forwarder in batches of `size`, `inFlight` batches at a time. */
async function measure(
  kind: Row["backends"],
  b: Backends,
  count: number,
  size: number,
  inFlight: number,
): Promise<Row> {
  const forwarder = new Forwarder({
    bus: new MemoryBus(),
    store: b.store,
    registry: b.registry,
    delivery: b.delivery,
    topic: "bench",
    groupId: "bench",
    log: createLogger("bench-forward", "silent"),
    metrics: createMetrics({ defaultMetrics: false }),
    // past the registry's settling time: routes go by the registry alone
    now: () => Date.now() + REGISTRY_SETTLE_MS + 60_000,
  });
  // every room read once (its last seq and de-duplication window), as after an assignment
  await Promise.all(batchesOf(rooms, rooms).map((batch) => forwarder.handleBatch(batch)));
  const routed0 = b.routed();
  const batches = batchesOf(count, size);
  const hist = newHistogram();
  const meter = cpuMeter(b.pids);
  const cpu0 = process.threadCpuUsage();
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++] as ConsumedBatch;
      const start = performance.now();
      await forwarder.handleBatch(batch);
      record(hist, performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const expected = count * GATEWAYS.length;
  await waitFor(
    `${expected} payloads routed`,
    () => (b.routed() - routed0 >= expected ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 1 },
  );
  const wallMs = performance.now() - t0;
  const cpu = process.threadCpuUsage(cpu0);
  const backendCpu = meter();
  await forwarder.stop();
  return {
    backends: kind,
    batchSize: size,
    inFlight,
    messages: count,
    messagesPerS: Math.round(count / (wallMs / 1000)),
    batchMs: summarize(hist),
    forwarderUsPerMessage: round3((cpu.user + cpu.system) / count),
    backendUsPerMessage: Object.fromEntries(
      Object.keys(b.pids).map((k) => [k, round3(((backendCpu[k] ?? 0) * 1e6) / count)]),
    ),
  };
}

const rows: Row[] = [];
const plan: { kind: Row["backends"]; count: number; make: () => Promise<Backends> }[] = [
  { kind: "memory", count: Number(a.messages), make: memory },
  ...(a.real ? [{ kind: "real" as const, count: Number(a["real-messages"]), make: real }] : []),
];
for (const p of plan) {
  const b = await p.make();
  try {
    await measure(p.kind, b, Math.min(p.count, 2_000), 10, 1); // warm-up
    for (const size of batchSizes) {
      for (const inFlight of [1, 16]) {
        const row = await measure(p.kind, b, p.count, size, inFlight);
        rows.push(row);
        console.log(
          `${row.backends}, batches of ${size}, ${inFlight} in flight: ${row.messagesPerS} msg/s, batch p50 ${row.batchMs.p50} p99 ${row.batchMs.p99} ms, forwarder ${row.forwarderUsPerMessage} µs/msg ${JSON.stringify(row.backendUsPerMessage)}`,
        );
      }
    }
  } finally {
    await b.close();
  }
}

const out = writeResults(
  run,
  {
    rooms,
    gatewaysPerRoom: GATEWAYS.length,
    batchSizes,
    runs: plan.map((p) => `${p.kind}: ${p.count} messages`),
  },
  { rows },
  [
    {
      title: "Forwarder.handleBatch: persist and route",
      body: `Each run is a fresh forwarder that has read every room once; a batch holds consecutive messages of rooms taken round robin, so a batch of 100 touches every room once. "batch ms" is from handing a batch over to its promise resolving (every message of it stored); the run ends once every message was routed to both gateways of its room. "forwarder µs/message" is the benchmark thread's CPU (the forwarder and its backend clients); on the real backends, Cassandra's and Redis's CPU is added per message — they are shared with whatever else runs on the machine.\n\n${table(
        [
          "backends",
          "messages/batch",
          "batches in flight",
          "messages/s",
          "batch ms p50 / p99",
          "forwarder µs/message",
          "backends µs/message",
        ],
        rows.map((r) => [
          r.backends,
          r.batchSize,
          r.inFlight,
          r.messagesPerS,
          `${r.batchMs.p50} / ${r.batchMs.p99}`,
          r.forwarderUsPerMessage,
          Object.entries(r.backendUsPerMessage)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "-",
        ]),
      )}`,
    },
  ],
);
console.log(`wrote ${out.json} and ${out.md}`);
