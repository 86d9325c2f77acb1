// End to end on the real stack: two gateways and two forwarders (processes, on Kafka,
// Cassandra and Redis), rooms of 10 members spread over both gateways, a stepped ramp of
// messages per second. Measures deliveries per second and latency from the send to the
// receipt on the other members' sockets (all, and only those on the other gateway), and the
// CPU each process used. `node bench/e2e.ts --help`.
import { mkdirSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { ChatStack } from "../e2e/testkit/index.ts";
import { type LatencySummary, summarize } from "./lib/histogram.ts";
import { cpuMeter, load, procSample, round3, stackPids } from "./lib/machine.ts";
import { createRooms, registerUsers } from "./lib/population.ts";
import { monoUs, profilesIn, summarizeProfile } from "./lib/profile.ts";
import { pathStages, scrape, stageMeans, stageTails } from "./lib/prom.ts";
import { beginRun, resultsDir, table, writeResults } from "./lib/results.ts";
import { Generator } from "./loadgen/generator.ts";

const { values: a } = parseArgs({
  options: {
    rooms: { type: "string", default: "200" },
    "room-size": { type: "string", default: "10" },
    steps: { type: "string", default: "500,1000,2000,5000" },
    duration: { type: "string", default: "10" },
    repeat: { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
    partitions: { type: "string", default: "4" },
    profile: { type: "boolean", default: false },
    name: { type: "string", default: "e2e" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(`node bench/e2e.ts [--rooms 200] [--room-size 10] [--steps 500,1000,2000,5000]
  [--duration 10 (s per step)] [--repeat 2] [--threads 2 (generator threads)] [--partitions 4]
  [--profile (gateways and forwarders run with --cpu-prof; summary of the top step)] [--name e2e]
Needs the real stack (hack/stack status). Writes bench/results/<name>.json and .md.`);
  process.exit(0);
}

const rooms = Number(a.rooms);
const roomSize = Number(a["room-size"]);
const steps = (a.steps ?? "").split(",").map(Number);
const durationMs = Number(a.duration) * 1000;
const repeat = Number(a.repeat);
const threads = Number(a.threads);
const name = a.name ?? "e2e";
const profileDir = `${resultsDir}profiles/${name}`;

const run = beginRun(name);
const params = {
  gateways: 2,
  forwarders: 2,
  rooms,
  roomSize,
  users: rooms * roomSize,
  steps,
  durationS: durationMs / 1000,
  repeat,
  generatorThreads: threads,
  partitions: Number(a.partitions),
  profile: a.profile,
  placement: "member j of each room on gateway j % 2; senders rotate over all members",
};
console.log(`e2e: ${JSON.stringify(params)}; load ${run.loadBefore.join(" ")}`);

if (a.profile) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}
const stack = await ChatStack.start({
  gateways: 2,
  forwarders: 2,
  partitions: Number(a.partitions),
  env: {
    RATE_LIMIT_BURST: "100000",
    RATE_LIMIT_PER_SECOND: "100000",
    ...(a.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
  },
});
const roles = new Map<number, string>();
const pids: Record<string, number> = { ...stackPids() };
for (const w of [...stack.gateways, ...stack.forwarders]) {
  const pid = w.child.pid as number;
  pids[w.name] = pid;
  roles.set(pid, w.name);
}
const gwUrls = stack.gateways.map((g) => g.url);
const allUrls = [...gwUrls, ...stack.forwarders.map((f) => f.url)];
const wsUrls = gwUrls.map((u) => `${u.replace(/^http/, "ws")}/v1/ws`);

let gen: Generator | undefined;
const rows: Record<string, unknown>[] = [];
let topWindow: { fromUs: number; toUs: number } | undefined;
try {
  let t = Date.now();
  const users = await registerUsers(gwUrls, rooms * roomSize, `u${Date.now().toString(36)}`);
  const registerS = (Date.now() - t) / 1000;
  t = Date.now();
  const made = await createRooms(gwUrls[0] as string, users, roomSize);
  const roomsS = (Date.now() - t) / 1000;
  console.log(
    `registered ${users.length} users in ${registerS} s, ${made.length} rooms in ${roomsS} s`,
  );

  gen = await Generator.start(threads);
  const opened = await gen.open(
    made.map((r) => ({
      id: r.id,
      members: r.members.map((m, j) => ({
        url: wsUrls[j % wsUrls.length] as string,
        token: m.accessToken,
        gw: j % wsUrls.length,
      })),
    })),
  );
  console.log(`opened ${opened.ok} sockets (${opened.failed} failed) in ${opened.ms} ms`);
  if (opened.failed > 0) throw new Error(`sockets failed: ${JSON.stringify(opened.failures)}`);

  // warm-up: every room gets its first messages (the forwarder reads each room's seq once)
  await gen.step(0, Math.min(500, steps[0] ?? 500), 4000);

  let stepNo = 1;
  for (const rate of steps) {
    for (let rep = 1; rep <= repeat; rep++) {
      const loadBefore = load();
      const meter = cpuMeter(pids);
      const m0 = await scrape(allUrls);
      const fromUs = monoUs();
      const r = await gen.step(stepNo++, rate, durationMs);
      const toUs = monoUs();
      const cpu = meter();
      const m1 = await scrape(allUrls);
      const stages = stageMeans(m0, m1, pathStages);
      const tails = stageTails(m0, m1, pathStages);
      if (rate === Math.max(...steps) && rep === 1) topWindow = { fromUs, toUs };
      const windowS = Math.max(durationMs, r.activeMs) / 1000;
      const gwCpu = stack.gateways.reduce((s, g) => s + (cpu[g.name] ?? 0), 0);
      const fwCpu = stack.forwarders.reduce((s, f) => s + (cpu[f.name] ?? 0), 0);
      const errors = Object.values(r.errors).reduce((x, y) => x + y, 0);
      const row = {
        targetRate: rate,
        rep,
        sentPerS: Math.round(r.sent / (durationMs / 1000)),
        deliveredPerS: Math.round(r.received / windowS),
        acked: r.acked,
        sent: r.sent,
        expected: r.expected,
        received: r.received,
        missing: r.expected - r.received,
        throttled: r.throttled,
        skipped: r.skipped,
        late: r.late,
        errors,
        errorCodes: r.errors,
        closes: r.closes,
        latencyMs: summarize(r.all),
        crossGatewayLatencyMs: summarize(r.cross),
        ackLatencyMs: summarize(r.ack),
        stages,
        tails,
        loadBefore,
        loadAfter: load(),
        cpuSec: cpu,
        gatewaysCpuSec: round3(gwCpu),
        forwardersCpuSec: round3(fwCpu),
        serverUsPerDelivery: r.received === 0 ? null : round3(((gwCpu + fwCpu) * 1e6) / r.received),
        generatorUsPerDelivery:
          r.received === 0 ? null : round3(((cpu.generator ?? 0) * 1e6) / r.received),
        rssMiB: Object.fromEntries(
          Object.entries(pids).map(([k, pid]) => [
            k,
            Math.round((procSample(pid)?.rssBytes ?? 0) / 2 ** 20),
          ]),
        ),
      };
      rows.push(row);
      const l = row.latencyMs;
      console.log(
        `step ${rate} msg/s #${rep}: sent ${row.sentPerS}/s, delivered ${row.deliveredPerS}/s, p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} ms, missing ${row.missing}, throttled ${row.throttled}, errors ${errors}, load ${loadBefore[0]}, cpu gw ${row.gatewaysCpuSec}s fwd ${row.forwardersCpuSec}s gen ${cpu.generator}s`,
      );
    }
  }
} finally {
  await gen?.close().catch((err: unknown) => console.error("closing the generator:", err));
  await stack.stop();
}

const profiles = a.profile
  ? profilesIn(profileDir).map((f) => ({
      role: "",
      ...summarizeProfile(f, topWindow),
    }))
  : [];
for (const p of profiles) p.role = roles.get(p.pid) ?? `pid ${p.pid}`;

const lat = (s: LatencySummary) => `${s.p50} / ${s.p95} / ${s.p99}`;
const stepTable = table(
  [
    "target msg/s",
    "#",
    "sent msg/s",
    "delivered/s",
    "latency p50/p95/p99 ms",
    "other gateway p50/p95/p99",
    "ack p50/p99",
    "missing",
    "throttled",
    "skipped",
    "errors",
    "load (1 min)",
  ],
  rows.map((r: any) => [
    r.targetRate,
    r.rep,
    r.sentPerS,
    r.deliveredPerS,
    lat(r.latencyMs),
    lat(r.crossGatewayLatencyMs),
    `${r.ackLatencyMs.p50} / ${r.ackLatencyMs.p99}`,
    r.missing,
    r.throttled,
    r.skipped,
    r.errors,
    r.loadBefore[0],
  ]),
);
const cpuTable = table(
  [
    "target msg/s",
    "#",
    "gateways s",
    "forwarders s",
    "kafka s",
    "cassandra s",
    "redis s",
    "generator s",
    "whole machine busy s (of)",
    "server µs/delivery",
    "generator µs/delivery",
  ],
  rows.map((r: any) => [
    r.targetRate,
    r.rep,
    r.gatewaysCpuSec,
    r.forwardersCpuSec,
    r.cpuSec.kafka,
    r.cpuSec.cassandra,
    r.cpuSec.redis,
    r.cpuSec.generator,
    `${r.cpuSec.machineBusy} (${r.cpuSec.machineTotal})`,
    r.serverUsPerDelivery,
    r.generatorUsPerDelivery,
  ]),
);
const stageNames = Object.keys(pathStages);
const stageTable = table(
  ["target msg/s", "#", ...stageNames.map((n) => `${n} (mean ms)`), "batches"],
  rows.map((r: any) => [
    r.targetRate,
    r.rep,
    ...stageNames.map((n) => r.stages[n].meanMs),
    r.stages[stageNames[1] as string].count,
  ]),
);
const tailTable = table(
  ["target msg/s", "#", ...stageNames.map((n) => `${n}: p99 ≤ / > 10 ms / > 25 ms`)],
  rows.map((r: any) => [
    r.targetRate,
    r.rep,
    ...stageNames.map((n) => {
      const t = r.tails[n];
      return `${t.p99AtMostMs} ms / ${t.over10msPct} % / ${t.over25msPct} %`;
    }),
  ]),
);
const profileBody = profiles
  .map(
    (p) =>
      `### ${p.role} (${p.busyMs} ms busy${p.windowed ? " during the first top step" : ", whole run"})\n\n` +
      `By package: ${p.byPackage.map((x) => `${x.name} ${x.pct}%`).join(", ")}\n\n` +
      table(
        ["self ms", "%", "function", "where"],
        p.topFunctions.map((f) => [f.ms, f.pct, f.name, f.where]),
      ),
  )
  .join("\n\n");
const out = writeResults(run, params, { steps: rows, profiles }, [
  {
    title: "Steps",
    body: `Latency is from the send (timestamp in client_msg_id) to the receipt by each other member of the room; "other gateway" counts only members connected to the gateway the sender was not on. Deliveries = message frames received by members other than the sender (room size − 1 per message; the sender gets an ack). missing = expected − received after a 10 s drain; throttled = sends not made because the sending socket already had 32 unacknowledged; skipped = sends not made because the generator fell more than 1 s behind its schedule.\n\n${stepTable}`,
  },
  {
    title: "Where the latency goes (the workloads' own histograms, mean per step)",
    body: `From /metrics of both gateways and both forwarders, Δsum / Δcount over the step.\n\n${stageTable}`,
  },
  {
    title: "Where the tail goes (the same histograms' buckets per step)",
    body: `The bucket bound under which 99 % of each stage's observations fell (the buckets are 5, 10, 25, 50, 100, 250 ms: an upper bound), and the share of observations above 10 ms and above 25 ms. A stage whose share above a bound is near the end-to-end share is where that tail comes from.\n\n${tailTable}`,
  },
  {
    title: "CPU during each step (seconds)",
    body: `Each step lasts ${durationMs / 1000} s plus its drain. "whole machine" includes every other helper's work on these shared cores.\n\n${cpuTable}`,
  },
  ...(profiles.length > 0
    ? [{ title: "Where the time goes (CPU profiles)", body: profileBody }]
    : []),
]);
console.log(`wrote ${out.json} and ${out.md}`);
