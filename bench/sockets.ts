// Idle authenticated sockets on the real stack: how many each gateway process holds and what
// each costs it in memory (RSS from /proc/<pid>/status, JS heap from the gateway's own
// /metrics). Every socket upgrades with its own user's signed access token and says hello
// (so the gateway registers it, in memory and in Redis), then stays idle, answering pings.
// One process may hold at most 20,000 open files here, so a large total is spread over
// several gateway processes, each fed by its own generator process from its own loopback
// source address. `node bench/sockets.ts --help`.
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createLogger } from "#contract/telemetry/log";
import { ChatStack, freePort } from "../e2e/testkit/index.ts";
import { Sessions } from "../workloads/gateway/auth/sessions.ts";
import { Tokens } from "../workloads/gateway/auth/tokens.ts";
import { memoryBackends } from "../workloads/shared/backends/connect.ts";
import { forceGc } from "./lib/inspector.ts";
import { cpuMeter, load, procSample, stackPids } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";
import type { OpenResult, SocketSpec } from "./loadgen/protocol.ts";

const { values: a } = parseArgs({
  options: {
    gateways: { type: "string", default: "1" },
    "per-gateway": { type: "string", default: "19500" },
    threads: { type: "string", default: "2" },
    "gateway-node-options": { type: "string", default: "" },
    name: { type: "string", default: "sockets" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(`node bench/sockets.ts [--gateways 1] [--per-gateway 19500] [--threads 2 (per generator)]
  [--gateway-node-options "--max-semi-space-size=1"] [--name sockets]
Needs the real stack. Writes bench/results/<name>.json and .md.`);
  process.exit(0);
}
const gateways = Number(a.gateways);
const perGateway = Number(a["per-gateway"]);
const threads = Number(a.threads);
const nodeOptions = a["gateway-node-options"] ?? "";
const name = a.name ?? "sockets";
// a fresh 127.X.0.0/24 per run: the previous run's ports on its addresses sit in TIME_WAIT for a
// minute, and a socket bound to an explicit source address cannot take them
const sourceNet = `127.${2 + (process.pid % 250)}.0`;
const run = beginRun(name);
const params = {
  gateways,
  perGateway,
  total: gateways * perGateway,
  generatorProcesses: gateways,
  generatorThreadsEach: threads,
  gatewayNodeOptions: nodeOptions === "" ? "(none: default GC flags)" : nodeOptions,
  sourceAddresses: Array.from({ length: gateways }, (_, i) => `${sourceNet}.${2 + i}`),
  rooms: "none (each user is in no room: the per-socket cost of hub and registry only)",
};
console.log(`sockets: ${JSON.stringify(params)}; load ${run.loadBefore.join(" ")}`);

// each gateway gets an inspector port of its own: the benchmark forces a full GC through it
// before each reading, so the figures count live memory, not garbage awaiting collection
const stack = await ChatStack.start({ gateways: 0, forwarders: 0 });
const inspectPorts: number[] = [];
for (let i = 0; i < gateways; i++) {
  const port = await freePort();
  inspectPorts.push(port);
  await stack.startGateway({ NODE_OPTIONS: `${nodeOptions} --inspect=127.0.0.1:${port}`.trim() });
}

async function heapUsed(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}
async function connections(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return Number(
    /^switchboard_gateway_connections (\S+)$/m.exec(await res.text())?.[1] ?? Number.NaN,
  );
}
/** RSS and heap after a full GC (the lowest of 3 readings a second apart). */
async function memory(i: number): Promise<{ rss: number; heap: number }> {
  const g = stack.gateways[i];
  if (g === undefined) throw new Error(`no gateway ${i}`);
  let rss = Number.POSITIVE_INFINITY;
  let heap = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    await forceGc(inspectPorts[i] as number);
    await delay(1000);
    rss = Math.min(rss, procSample(g.child.pid as number)?.rssBytes ?? Number.NaN);
    heap = Math.min(heap, await heapUsed(g.url));
  }
  return { rss, heap };
}

const children: ChildProcess[] = [];
const rows: Record<string, unknown>[] = [];
try {
  // tokens signed with the gateways' secret; their sessions are unknown to (never revoked in)
  // the gateways' store
  const minting = memoryBackends();
  const tokens = new Tokens(
    {
      secret: new TextEncoder().encode(stack.env.JWT_SECRET),
      issuer: "switchboard",
      accessTtlSeconds: 3600,
      refreshTtlSeconds: 3600,
    },
    minting.store,
    new Sessions({ ...minting, log: createLogger("bench", "silent") }),
  );
  await delay(3000);
  const before = await Promise.all(stack.gateways.map((_, i) => memory(i)));
  const pids: Record<string, number> = { ...stackPids() };
  for (const g of stack.gateways) pids[g.name] = g.child.pid as number;

  const specs: SocketSpec[][] = [];
  for (const [i, g] of stack.gateways.entries()) {
    const list: SocketSpec[] = [];
    const url = `${g.url.replace(/^http/, "ws")}/v1/ws`;
    for (let k = 0; k < perGateway; k++) {
      const id = randomUUID();
      const pair = await tokens.issue(id, `idle-${i}-${k}`);
      list.push({ url, token: pair.access_token, gw: i, localAddress: `${sourceNet}.${2 + i}` });
    }
    specs.push(list);
  }
  for (let i = 0; i < gateways; i++) {
    const child = fork(new URL("./loadgen/child.ts", import.meta.url), [String(threads)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    await once(child, "message");
    pids[`generator-${i}`] = child.pid as number;
  }
  const meter = cpuMeter(pids);
  const t0 = Date.now();
  const opened = await Promise.all(
    children.map(async (child, i) => {
      const reply = once(child, "message") as Promise<[OpenResult]>;
      child.send({ op: "open", sockets: specs[i], concurrency: 100 });
      return (await reply)[0];
    }),
  );
  const openS = (Date.now() - t0) / 1000;
  const cpu = meter();
  console.log(
    `opened in ${openS} s: ${opened.map((o) => `${o.ok} ok, ${o.failed} failed`).join("; ")}`,
  );
  await delay(5000);
  const after = await Promise.all(stack.gateways.map((_, i) => memory(i)));
  for (const [i, g] of stack.gateways.entries()) {
    const o = opened[i] as OpenResult;
    const b = before[i] as { rss: number; heap: number };
    const f = after[i] as { rss: number; heap: number };
    const held = await connections(g.url);
    const gen = procSample(children[i]?.pid as number);
    rows.push({
      gateway: g.name,
      requested: perGateway,
      opened: o.ok,
      failed: o.failed,
      failures: o.failures,
      heldByGateway: held,
      rssBeforeMiB: Math.round(b.rss / 2 ** 20),
      rssAfterMiB: Math.round(f.rss / 2 ** 20),
      heapBeforeMiB: Math.round(b.heap / 2 ** 20),
      heapAfterMiB: Math.round(f.heap / 2 ** 20),
      rssPerSocketKiB: Math.round(((f.rss - b.rss) / Math.max(held, 1) / 1024) * 100) / 100,
      heapPerSocketKiB: Math.round(((f.heap - b.heap) / Math.max(held, 1) / 1024) * 100) / 100,
      rssTotalPerSocketKiB: Math.round((f.rss / Math.max(held, 1) / 1024) * 100) / 100,
      gatewayCpuSecToOpen: cpu[g.name],
      generatorCpuSecToOpen: cpu[`generator-${i}`],
      generatorRssMiB: Math.round((gen?.rssBytes ?? 0) / 2 ** 20),
      openSeconds: o.ms / 1000,
    });
  }
  rows.push({
    total: rows.reduce((s, r: any) => s + r.heldByGateway, 0),
    openSeconds: openS,
    loadAfterOpen: load(),
    cpuSecToOpen: cpu,
  });
  for (const r of rows) console.log(JSON.stringify(r));
} finally {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const gone = once(child, "exit");
      child.send({ op: "close" });
      await gone;
    }),
  );
  await stack.stop();
}

const per = rows.filter((r: any) => r.gateway !== undefined) as any[];
const total = rows.at(-1) as any;
const body = table(
  [
    "gateway",
    "sockets held",
    "failed",
    "RSS before → after MiB",
    "heap before → after MiB",
    "RSS Δ per socket KiB",
    "heap Δ per socket KiB",
    "RSS / sockets KiB",
    "generator RSS MiB",
  ],
  per.map((r) => [
    r.gateway,
    r.heldByGateway,
    r.failed,
    `${r.rssBeforeMiB} → ${r.rssAfterMiB}`,
    `${r.heapBeforeMiB} → ${r.heapAfterMiB}`,
    r.rssPerSocketKiB,
    r.heapPerSocketKiB,
    r.rssTotalPerSocketKiB,
    r.generatorRssMiB,
  ]),
);
const out = writeResults(run, params, { gateways: per, total }, [
  {
    title: "Idle sockets",
    body: `${total.total} idle authenticated sockets held in total, opened (upgrade with a JWT, hello, welcome) in ${total.openSeconds} s; load after opening ${total.loadAfterOpen.join(" / ")}. "Δ per socket" = (after − before) / sockets held; every reading is taken after a full GC forced through the gateway's inspector (the lowest of 3, 1 s apart), heap from the gateway's /metrics (nodejs_heap_size_used_bytes); the kernel's socket buffers are outside RSS. Failures: ${JSON.stringify(per.map((r) => r.failures))}.\n\n${body}`,
  },
  {
    title: "CPU to open (seconds)",
    body: table(Object.keys(total.cpuSecToOpen), [Object.values(total.cpuSecToOpen)]),
  },
]);
console.log(`wrote ${out.json} and ${out.md}`);
