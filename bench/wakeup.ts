// Machine benchmark: what one request between two processes costs in CPU on this machine, by
// pace. An echo server (a child process) answers 64-byte requests over loopback TCP; the
// client sends one at a time, paced (every N ms) or back to back, and both processes' CPU is
// read from /proc. At chat rates every hop of the message path (gateway → Kafka → forwarder →
// Redis / Cassandra → gateway) is such a request, each waking a sleeping thread on the other
// side, so this is the unit the low-rate cost is made of (docs/performance.md, issue 13).
//
// `--halt-poll-ns 0,200000` repeats every pace with the guest kernel's halt polling
// (/sys/module/haltpoll/parameters/guest_halt_poll_ns, root only) at each value, and puts back
// the value it found. With 0 an idle vCPU halts at once, so waking a thread on it is an
// interrupt to a halted vCPU; with polling the idle vCPU spins that long before it halts and
// a wake-up within it needs no interrupt. `node bench/wakeup.ts [--seconds 5]
// [--paces-ms 10,1,0] [--halt-poll-ns 0,200000] [--name wakeup]`.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { newHistogram, record, summarize } from "./lib/histogram.ts";
import { load, round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    "paces-ms": { type: "string", default: "10,1,0" },
    "halt-poll-ns": { type: "string", default: "" },
    name: { type: "string", default: "wakeup" },
    help: { type: "boolean", default: false },
  },
});
const usage =
  "node bench/wakeup.ts [--seconds 5] [--paces-ms 10,1,0] [--halt-poll-ns 0,200000] [--name wakeup]";
if (a.help) {
  console.log(usage);
  process.exit(0);
}
const seconds = Number(a.seconds);
const paces = String(a["paces-ms"]).split(",").map(Number);
const pollValues = a["halt-poll-ns"] === "" ? [] : String(a["halt-poll-ns"]).split(",").map(Number);
if (
  !(seconds > 0) ||
  paces.some((p) => !(p >= 0)) ||
  pollValues.some((v) => !Number.isInteger(v) || v < 0)
) {
  throw new Error(`bad arguments; ${usage}`);
}
const HALT_POLL = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";
const TICK_MS = 10; // CLK_TCK 100
const BYTES = 64;

const readHaltPoll = (): string => {
  try {
    return readFileSync(HALT_POLL, "utf8").trim();
  } catch {
    return "n/a";
  }
};

/** utime + stime of a process, ms (tick resolution). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

const SERVER = `
const net = require("node:net");
const s = net.createServer((c) => { c.setNoDelay(true); c.on("data", (d) => c.write(d)); });
s.listen(0, "127.0.0.1", () => process.stdout.write(String(s.address().port) + "\\n"));
`;

const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise<number>((resolve, reject) => {
  server.once("error", reject);
  server.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
});
const serverPid = server.pid ?? 0;

const socket: Socket = await new Promise((resolve, reject) => {
  const s = connect(port, "127.0.0.1", () => resolve(s));
  s.once("error", reject);
});
socket.setNoDelay(true);
let pending: (() => void) | undefined;
let got = 0;
socket.on("data", (d) => {
  got += d.length;
  if (got >= BYTES && pending !== undefined) {
    got -= BYTES;
    const p = pending;
    pending = undefined;
    p();
  }
});
const payload = Buffer.alloc(BYTES, 120);
const roundTrip = () =>
  new Promise<void>((resolve) => {
    pending = resolve;
    socket.write(payload);
  });

interface Row {
  haltPollNs: string;
  pace: string;
  perSec: number;
  clientUs: number;
  serverUs: number;
  bothUs: number;
  p50: number;
  p99: number;
  load1: number;
}

async function measure(haltPollNs: string, paceMs: number): Promise<Row> {
  const h = newHistogram();
  const c0 = process.cpuUsage();
  const s0 = cpuMs(serverPid);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  let next = t0;
  while (performance.now() < end) {
    if (paceMs > 0) {
      next += paceMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const t = performance.now();
    await roundTrip();
    record(h, performance.now() - t);
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const clientMs = (c.user + c.system) / 1000;
  const serverMs = cpuMs(serverPid) - s0;
  const sum = summarize(h);
  const row: Row = {
    haltPollNs,
    pace: paceMs === 0 ? "back to back" : `every ${paceMs} ms`,
    perSec: Math.round(n / s),
    clientUs: round3((clientMs * 1000) / n),
    serverUs: round3((serverMs * 1000) / n),
    bothUs: round3(((clientMs + serverMs) * 1000) / n),
    p50: sum.p50,
    p99: sum.p99,
    load1: load()[0],
  };
  console.log(JSON.stringify(row));
  return row;
}

const found = readHaltPoll();
if (pollValues.length > 0 && found === "n/a") {
  throw new Error(
    `--halt-poll-ns needs ${HALT_POLL} (the guest's haltpoll idle driver) and root; run without it`,
  );
}
const run = beginRun(String(a.name));
const rows: Row[] = [];
try {
  for (let i = 0; i < 2_000; i++) await roundTrip(); // warm both sides
  const settings = pollValues.length === 0 ? [undefined] : pollValues;
  for (const ns of settings) {
    if (ns !== undefined) writeFileSync(HALT_POLL, String(ns));
    for (const pace of paces) rows.push(await measure(readHaltPoll(), pace));
  }
} finally {
  if (pollValues.length > 0 && found !== "n/a") writeFileSync(HALT_POLL, found);
  socket.destroy();
  server.kill();
}

const body = table(
  [
    "halt poll (ns)",
    "pace",
    "round trips/s",
    "client CPU µs per round trip",
    "server CPU µs",
    "both",
    "p50 ms",
    "p99 ms",
    "load 1m",
  ],
  rows.map((r) => [
    r.haltPollNs,
    r.pace,
    r.perSec,
    r.clientUs,
    r.serverUs,
    r.bothUs,
    r.p50,
    r.p99,
    r.load1,
  ]),
);
const out = writeResults(
  run,
  { seconds, paces, haltPollNs: pollValues, haltPollFound: found },
  { rows },
  [
    {
      title: "CPU per request between two processes (64 bytes over loopback TCP, one at a time)",
      body:
        "Both processes' CPU (user + system, from /proc, 10 ms ticks) divided by the round " +
        "trips; a paced client also wakes for its timer. " +
        `guest_halt_poll_ns found: ${found}.\n\n${body}`,
    },
  ],
);
console.log(body);
console.log(`wrote ${out.md}`);
