// Switchboard beside its peers, in one run, with one load generator (bench/loadgen, speaking
// each system's protocol: wire.ts): Switchboard (2 gateways + 2 forwarders on the shared
// Kafka, Cassandra and Redis), Centrifugo (2 nodes, Redis engine) and Socket.IO (2 nodes,
// Redis adapter). Same rooms for all: one sender on the first node, receivers split over both.
// Each system is warmed, then driven through the same steps; per step it records deliveries/s,
// latency, loss, errors and the CPU of each process per delivery. `node bench/peers.ts --help`.
import { parseArgs } from "node:util";
import { type LatencySummary, summarize } from "./lib/histogram.ts";
import { cpuMeter, load, round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";
import { Generator } from "./loadgen/generator.ts";
import { startCentrifugo } from "./peers/centrifugo.ts";
import { type PeersRedis, startRedis } from "./peers/redis.ts";
import { startSocketIo } from "./peers/socketio.ts";
import { startSwitchboard } from "./peers/switchboard.ts";
import type { RoomShape, Running, SystemName } from "./peers/system.ts";

const SYSTEMS: readonly SystemName[] = ["switchboard", "centrifugo", "socketio"];
/** Private ports (this bench's range): the peers' Redis, then two nodes per peer. */
const PORTS = { redis: 18400, centrifugo: [18401, 18402], socketio: [18403, 18404] } as const;
/**
 * The knees: the highest deliveries/s of a step with p99 at most this, every delivery in within
 * the drain, no error, no send held back.
 */
const KNEES_MS = [25, 100] as const;

const { values: a } = parseArgs({
  options: {
    systems: { type: "string", default: SYSTEMS.join(",") },
    rooms: { type: "string", default: "100" },
    receivers: { type: "string", default: "10" },
    steps: { type: "string", default: "25,100,250,500,1000,2000,5000,10000" },
    duration: { type: "string", default: "10" },
    repeat: { type: "string", default: "1" },
    warmup: { type: "string", default: "20" },
    "warmup-rate": { type: "string", default: "500" },
    threads: { type: "string", default: "2" },
    partitions: { type: "string", default: "4" },
    name: { type: "string", default: "peers" },
    note: { type: "string", default: "" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(`node bench/peers.ts [--systems ${SYSTEMS.join(",")}] [--rooms 100] [--receivers 10 (per room)]
  [--steps 25,100,250,500,1000,2000,5000,10000 (messages/s)] [--duration 10 (s per step)]
  [--repeat 1] [--warmup 20 (s, per system, before its steps)] [--warmup-rate 500 (msg/s)]
  [--threads 2 (generator threads)] [--partitions 4 (Switchboard's messages topic)]
  [--name peers] [--note "text for the results"]
Each room: one sender on the first node, --receivers split over both; a message is delivered
to every receiver. Switchboard needs the shared stack (hack/stack status); Centrifugo is built
once by hack/centrifugo.sh (cached); the peers' Redis is a redis-server child on port
${PORTS.redis}, their nodes on ${PORTS.centrifugo.join(",")} and ${PORTS.socketio.join(",")}.
Writes bench/results/<name>.json and .md.`);
  process.exit(0);
}

const systems = (a.systems ?? "").split(",").filter((s) => s !== "");
for (const s of systems) {
  if (!SYSTEMS.includes(s as SystemName)) {
    console.error(`unknown system ${JSON.stringify(s)}: choose from ${SYSTEMS.join(", ")}`);
    process.exit(2);
  }
}
const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, not ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};
const shape: RoomShape = {
  rooms: positive("rooms", a.rooms),
  receivers: positive("receivers", a.receivers),
};
const steps = (a.steps ?? "").split(",").map((s) => positive("steps", s));
const durationMs = positive("duration", a.duration) * 1000;
const repeat = positive("repeat", a.repeat);
const warmupMs = Number(a.warmup) * 1000;
const warmupRate = positive("warmup-rate", a["warmup-rate"]);
const threads = positive("threads", a.threads);
const partitions = positive("partitions", a.partitions);
const name = a.name ?? "peers";

const run = beginRun(name);
const params = {
  systems,
  rooms: shape.rooms,
  receiversPerRoom: shape.receivers,
  placement: "one sender per room on node 0; receiver j (1..n) on node j % 2",
  steps,
  durationS: durationMs / 1000,
  repeat,
  warmupS: warmupMs / 1000,
  warmupRate,
  generatorThreads: threads,
  switchboardPartitions: partitions,
  ...(a.note ? { note: a.note } : {}),
};
console.log(`peers: ${JSON.stringify(params)}; load ${run.loadBefore.join(" ")}`);

interface Row {
  system: SystemName;
  targetRate: number;
  rep: number;
  sentPerS: number;
  deliveredPerS: number;
  sent: number;
  acked: number;
  expected: number;
  received: number;
  missing: number;
  throttled: number;
  skipped: number;
  late: number;
  errors: number;
  errorCodes: Record<string, number>;
  closes: Record<string, number>;
  latencyMs: LatencySummary;
  crossNodeLatencyMs: LatencySummary;
  ackLatencyMs: LatencySummary;
  cpuSec: Record<string, number>;
  /** µs of CPU per delivery, per process */
  usPerDelivery: Record<string, number | null>;
  nodesUsPerDelivery: number | null;
  serverUsPerDelivery: number | null;
  generatorUsPerDelivery: number | null;
  loadBefore: [number, number, number];
  loadAfter: [number, number, number];
}

const rows: Row[] = [];
const described: Record<string, { describe: string; nodes: string[]; backends: string[] }> = {};

async function start(system: SystemName, redis: PeersRedis | undefined): Promise<Running> {
  if (system === "switchboard") return startSwitchboard(shape, partitions);
  if (redis === undefined) throw new Error("the peers' Redis is not running");
  return system === "centrifugo"
    ? startCentrifugo(shape, redis, PORTS.centrifugo)
    : startSocketIo(shape, redis, PORTS.socketio);
}

const perDelivery = (sec: number, received: number) =>
  received === 0 ? null : round3((sec * 1e6) / received);

async function measure(system: SystemName, redis: PeersRedis | undefined): Promise<void> {
  let t = Date.now();
  const running = await start(system, redis);
  console.log(`${system}: started in ${(Date.now() - t) / 1000} s: ${running.describe}`);
  described[system] = {
    describe: running.describe,
    nodes: Object.keys(running.nodes),
    backends: Object.keys(running.backends),
  };
  let gen: Generator | undefined;
  try {
    gen = await Generator.start(threads);
    t = Date.now();
    const opened = await gen.open(running.rooms);
    console.log(
      `${system}: opened ${opened.ok} sockets (${opened.failed} failed) in ${opened.ms} ms`,
    );
    if (opened.failed > 0) throw new Error(`sockets failed: ${JSON.stringify(opened.failures)}`);
    if (warmupMs > 0) {
      const w = await gen.step(0, warmupRate, warmupMs);
      const l = summarize(w.all);
      console.log(
        `${system}: warm-up ${warmupRate} msg/s for ${warmupMs / 1000} s: p50 ${l.p50} p99 ${l.p99} ms, missing ${w.expected - w.received}`,
      );
    }
    const pids = { ...running.nodes, ...running.backends };
    let stepNo = 1;
    for (const rate of steps) {
      for (let rep = 1; rep <= repeat; rep++) {
        const loadBefore = load();
        const meter = cpuMeter(pids);
        const r = await gen.step(stepNo++, rate, durationMs);
        const cpu = meter();
        const windowS = Math.max(durationMs, r.activeMs) / 1000;
        const sum = (names: string[]) => names.reduce((s, k) => s + (cpu[k] ?? 0), 0);
        const nodes = sum(Object.keys(running.nodes));
        const backends = sum(Object.keys(running.backends));
        const row: Row = {
          system,
          targetRate: rate,
          rep,
          sentPerS: Math.round(r.sent / (durationMs / 1000)),
          deliveredPerS: Math.round(r.received / windowS),
          sent: r.sent,
          acked: r.acked,
          expected: r.expected,
          received: r.received,
          missing: r.expected - r.received,
          throttled: r.throttled,
          skipped: r.skipped,
          late: r.late,
          errors: Object.values(r.errors).reduce((x, y) => x + y, 0),
          errorCodes: r.errors,
          closes: r.closes,
          latencyMs: summarize(r.all),
          crossNodeLatencyMs: summarize(r.cross),
          ackLatencyMs: summarize(r.ack),
          cpuSec: cpu,
          usPerDelivery: Object.fromEntries(
            Object.keys(pids).map((k) => [k, perDelivery(cpu[k] ?? 0, r.received)]),
          ),
          nodesUsPerDelivery: perDelivery(nodes, r.received),
          serverUsPerDelivery: perDelivery(nodes + backends, r.received),
          generatorUsPerDelivery: perDelivery(cpu.generator ?? 0, r.received),
          loadBefore,
          loadAfter: load(),
        };
        rows.push(row);
        const l = row.latencyMs;
        console.log(
          `${system} ${rate} msg/s #${rep}: delivered ${row.deliveredPerS}/s, p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} ms, missing ${row.missing}, errors ${row.errors}, throttled ${row.throttled}, µs/delivery nodes ${row.nodesUsPerDelivery} all ${row.serverUsPerDelivery}, load ${loadBefore[0]}`,
        );
      }
    }
  } finally {
    await gen?.close().catch((err: unknown) => console.error("closing the generator:", err));
    await running.stop();
  }
}

const needsRedis = systems.some((s) => s !== "switchboard");
const redis = needsRedis ? await startRedis(PORTS.redis) : undefined;
try {
  for (const s of systems) await measure(s as SystemName, redis);
} finally {
  await redis?.stop();
}

// ---- the figures ----

const clean = (r: Row) => r.missing === 0 && r.errors === 0 && r.skipped === 0 && r.throttled === 0;
const knees = Object.fromEntries(
  systems.map((s) => [
    s,
    Object.fromEntries(
      KNEES_MS.map((ms) => {
        const ok = rows.filter((r) => r.system === s && clean(r) && r.latencyMs.p99 <= ms);
        return [
          `p99<=${ms}ms`,
          ok.length === 0 ? null : Math.max(...ok.map((r) => r.deliveredPerS)),
        ];
      }),
    ),
  ]),
) as Record<string, Record<string, number | null>>;

/** Per step: Switchboard against the peer with the lower p99 at that step (first repeat). */
const ratios = steps.flatMap((rate) => {
  const at = (s: string) =>
    rows.find((r) => r.system === s && r.targetRate === rate && r.rep === 1);
  const sb = at("switchboard");
  const peers = systems
    .filter((s) => s !== "switchboard")
    .map(at)
    .filter((r): r is Row => r !== undefined)
    .sort((x, y) => x.latencyMs.p99 - y.latencyMs.p99);
  const peer = peers[0];
  if (sb === undefined || peer === undefined) return [];
  const ratio = (x: number | null, y: number | null) =>
    x === null || y === null || y === 0 ? null : Math.round((x / y) * 10) / 10;
  return [
    {
      targetRate: rate,
      betterPeer: peer.system,
      p50: ratio(sb.latencyMs.p50, peer.latencyMs.p50),
      p99: ratio(sb.latencyMs.p99, peer.latencyMs.p99),
      nodesUsPerDelivery: ratio(sb.nodesUsPerDelivery, peer.nodesUsPerDelivery),
      serverUsPerDelivery: ratio(sb.serverUsPerDelivery, peer.serverUsPerDelivery),
    },
  ];
});

const lat = (s: LatencySummary) => `${s.p50} / ${s.p95} / ${s.p99}`;
const kneeTable = table(
  ["system", ...KNEES_MS.map((ms) => `deliveries/s with p99 ≤ ${ms} ms`), "what ran"],
  systems.map((s) => [
    s,
    ...KNEES_MS.map((ms) => knees[s]?.[`p99<=${ms}ms`] ?? "none"),
    described[s]?.describe ?? "did not run",
  ]),
);
const stepTable = table(
  [
    "system",
    "msg/s",
    "#",
    "delivered/s",
    "p50 / p95 / p99 ms",
    "other node p50 / p99",
    "ack p50 / p99",
    "missing",
    "errors",
    "throttled",
    "nodes µs/delivery",
    "all µs/delivery",
    "generator µs/delivery",
    "load (1 min)",
  ],
  rows.map((r) => [
    r.system,
    r.targetRate,
    r.rep,
    r.deliveredPerS,
    lat(r.latencyMs),
    `${r.crossNodeLatencyMs.p50} / ${r.crossNodeLatencyMs.p99}`,
    `${r.ackLatencyMs.p50} / ${r.ackLatencyMs.p99}`,
    r.missing,
    r.errors === 0 ? 0 : `${r.errors} ${JSON.stringify(r.errorCodes)}`,
    r.throttled,
    r.nodesUsPerDelivery,
    r.serverUsPerDelivery,
    r.generatorUsPerDelivery,
    r.loadBefore[0],
  ]),
);
const cpuTables = systems
  .filter((s) => described[s] !== undefined)
  .map((s) => {
    const d = described[s] as { nodes: string[]; backends: string[] };
    const procs = [...d.nodes, ...d.backends];
    return `### ${s}\n\n${table(
      ["msg/s", "#", ...procs.map((p) => `${p} µs`), "machine busy s (of)"],
      rows
        .filter((r) => r.system === s)
        .map((r) => [
          r.targetRate,
          r.rep,
          ...procs.map((p) => r.usPerDelivery[p] ?? "-"),
          `${r.cpuSec.machineBusy} (${r.cpuSec.machineTotal})`,
        ]),
    )}`;
  })
  .join("\n\n");
const ratioTable = table(
  [
    "msg/s",
    "better peer (lower p99)",
    "p50 ×",
    "p99 ×",
    "nodes µs/delivery ×",
    "all µs/delivery ×",
  ],
  ratios.map((r) => [
    r.targetRate,
    r.betterPeer,
    r.p50,
    r.p99,
    r.nodesUsPerDelivery,
    r.serverUsPerDelivery,
  ]),
);

const out = writeResults(run, params, { knees, ratios, steps: rows, systems: described }, [
  {
    title: "Knees",
    body: `The highest deliveries/s of a step whose p99 stayed within the bound with every delivery in within its drain, no error and no send held back (throttled or skipped). A delivery is one message frame received by one receiver (${shape.receivers} per message).\n\n${kneeTable}`,
  },
  {
    title: "Switchboard ÷ the better peer",
    body: `Per step, Switchboard's figure divided by that of the peer with the lower p99 at the step (above 1: Switchboard is slower or costlier). A latency of 10001 ms is the histogram's last bucket (over 10 s): a ratio from it is a lower bound. CPU per delivery divides by the deliveries received, so a step whose deliveries were not all in within its drain counts its cost on fewer.\n\n${ratioTable}`,
  },
  {
    title: "Steps",
    body: `Latency runs from the send (a timestamp in the message) to the receipt by each receiver; "other node" counts only receivers on the node the sender is not on; ack is the sender's answer (Switchboard: stored and sequenced; Centrifugo: the publish reply; Socket.IO: the emit's ack). missing = expected − received after a 10 s drain; throttled = sends not made because the sender already had 32 unanswered. "nodes" = gateways + forwarders (Switchboard) or the two nodes (peers); "all" adds their backends (Switchboard: the shared Kafka, Cassandra and Redis, whose CPU includes whatever else used them meanwhile; peers: their private Redis).\n\n${stepTable}`,
  },
  {
    title: "CPU per delivery, per process (µs)",
    body: `Each step lasts ${durationMs / 1000} s plus its drain; "machine busy" counts every process on these shared cores, other sessions' work included.\n\n${cpuTables}`,
  },
]);
console.log(`\n${kneeTable}\n\n${ratioTable}\n\nwrote ${out.json} and ${out.md}`);
