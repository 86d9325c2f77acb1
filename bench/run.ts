// Runs every benchmark, one after another (`npm run bench`): the component benchmarks first,
// then the end-to-end ramp, Switchboard beside its peers, and the idle-socket runs on the real
// stack. Each one is also runnable alone (node bench/<name>.ts --help), or by name
// (`npm run bench -- peers`). Never part of `npm test`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);

const suites: { name: string; args: string[] }[] = [
  { name: "parser", args: ["parser.ts"] },
  { name: "fanout", args: ["fanout.ts"] },
  { name: "deliver", args: ["deliver.ts"] },
  { name: "forward", args: ["forward.ts", "--real"] },
  { name: "commitlog", args: ["commitlog.ts"] },
  { name: "cassandra-pace", args: ["cassandra-pace.ts", "--timer-slack-us", "1000"] },
  { name: "notifier", args: ["notifier.ts"] },
  // root: it sets the guest's halt polling for each row and puts it back
  {
    name: "wakeup",
    args: ["wakeup.ts", "--paces-ms", "100,10,1,0", "--halt-poll-ns", "0,50000,200000"],
  },
  { name: "e2e", args: ["e2e.ts", "--profile"] },
  { name: "peers", args: ["peers.ts"] },
  {
    name: "e2e-low-rates",
    args: ["e2e.ts", "--name", "e2e-low-rates", "--steps", "50,100,250,500"],
  },
  { name: "sockets-one-gateway", args: ["sockets.ts", "--name", "sockets-one-gateway"] },
  {
    name: "sockets-one-gateway-semi1",
    args: [
      "sockets.ts",
      "--name",
      "sockets-one-gateway-semi1",
      "--gateway-node-options=--max-semi-space-size=1",
    ],
  },
  {
    name: "sockets-100k",
    args: ["sockets.ts", "--name", "sockets-100k", "--gateways", "6", "--per-gateway", "16667"],
  },
];

let failed = 0;
for (const s of suites) {
  if (only.length > 0 && !only.includes(s.name)) continue;
  console.log(`\n=== bench ${s.name}: node bench/${s.args.join(" ")}`);
  const r = spawnSync(process.execPath, s.args, { cwd: here, stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${s.name} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
