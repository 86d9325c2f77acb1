// `npm run chaos [passes]`: the chaos scenario (e2e/chaos/scenario.ts) with every fault
// repeated `passes` times (default 3); writes the figures per fault, the machine and its load
// to bench/results/chaos.md and chaos.json. Exits non-zero when a guarantee broke.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load, machine, stackVersions } from "../../bench/lib/machine.ts";
import { FAULTS, type FaultFigure, type FaultName, runChaos } from "./scenario.ts";

const passes = Number(process.argv[2] ?? 3);
if (!Number.isInteger(passes) || passes < 1) {
  console.error(`usage: npm run chaos [passes ≥ 1], got ${process.argv[2]}`);
  process.exit(2);
}
// CHAOS_FAULTS=kafka,redis injects only those faults in each pass (default: every fault)
const faults = (process.env.CHAOS_FAULTS ?? FAULTS.join(",")).split(",").map((f) => f.trim());
const unknown = faults.filter((f) => !(FAULTS as readonly string[]).includes(f));
if (unknown.length > 0 || faults.length === 0) {
  console.error(`CHAOS_FAULTS takes some of ${FAULTS.join(",")}; got ${process.env.CHAOS_FAULTS}`);
  process.exit(2);
}
const results = fileURLToPath(new URL("../../bench/results/", import.meta.url));
const loadBefore = load();
const result = await runChaos({
  passes,
  faults: faults as FaultName[],
  log: (line) => process.stderr.write(`[chaos ${new Date().toISOString()}] ${line}\n`),
});
const loadAfter = load();
const m = machine();
const s = (ms: number | undefined) => (ms === undefined ? "–" : (ms / 1000).toFixed(1));
const max = (xs: number[]) => (xs.length === 0 ? undefined : Math.max(...xs));
const of = (f: string) => result.figures.filter((x) => x.fault === f);
const row = (f: FaultFigure) =>
  `| ${f.pass} | ${f.fault} | ${s(f.outageMs)} | ${s(f.longestAckGapMs)} | ${s(f.firstAckAfterRecoveryMs)} | ${f.roomGapsMs.map(s).join(" ")} | ${f.acksDuringOutage} |`;
const md = [
  "# Chaos run (issue 12 item 4)",
  "",
  `\`${faults.length === FAULTS.length ? "" : `CHAOS_FAULTS=${faults.join(",")} `}npm run chaos ${passes}\`: own Redis, Kafka and Cassandra; 2 gateways, 2 forwarders (processes);`,
  "60 users in 12 rooms of 5 over both gateways, one message per user every ~2.5 s, clients resend",
  "unacknowledged messages with the same client_msg_id (after 5 s, and on every reconnect).",
  "Faults in sequence per pass: SIGKILL a forwarder (restarted after 12 s), SIGKILL a gateway",
  "(restarted after 5 s; its clients reconnect to the other), SIGKILL Kafka, SIGKILL Cassandra",
  "(each restarted after 5 s), Redis stopped for 12 s. Times in seconds.",
  "",
  `- machine: ${m.cores} cores, ${m.cpuModel}, ${m.ramGiB} GiB, Linux ${m.kernel}, Node ${m.node}`,
  `- load average before ${loadBefore.join(" ")}, after ${loadAfter.join(" ")} (a shared machine)`,
  `- versions: ${JSON.stringify(stackVersions())}`,
  `- run: ${s(result.durationMs)} s, ${result.totals.acked} acked, ${result.totals.stored} stored, ${result.totals.framesShown} frames shown, ${result.totals.reconnects} reconnects, error frames ${JSON.stringify(result.totals.errors)}`,
  `- error logs of the workloads: ${JSON.stringify(result.totals.workloadErrors ?? {})}`,
  "",
  "## Guarantees",
  "",
  result.violations.length === 0
    ? "All held: 0 acknowledged messages lost, 0 seqs reused or skipped, 0 duplicates shown, order kept, every member shown every message."
    : `**${result.violations.length} violations:**\n\n${result.violations.map((v) => `- ${v}`).join("\n")}`,
  "",
  "## Unavailability per fault (worst over the passes)",
  "",
  "| fault | target | longest without any ack | first ack after recovery | worst room stall |",
  "|---|---|---|---|---|",
  ...FAULTS.map((f) => {
    const target = {
      forwarder: "other rooms never stall, its own ≤ 10 s",
      gateway: "clients reconnect to the other",
      kafka: "acks ≤ 5 s after Kafka is back",
      cassandra: "sends keep being acked",
      redis: "sends keep being acked",
    }[f];
    return `| ${f} | ${target} | ${s(max(of(f).map((x) => x.longestAckGapMs)))} | ${s(max(of(f).flatMap((x) => x.firstAckAfterRecoveryMs ?? [])))} | ${s(max(of(f).map((x) => x.roomGapsMs[0] ?? 0)))} |`;
  }),
  "",
  "## Every fault",
  "",
  "outage: injection until the part serves again; longest gap: without any ack from the injection",
  "until every message sent before recovery is acked; rooms: each room's longest gap, highest first.",
  "",
  "| pass | fault | outage | longest gap | first ack after | rooms | acks during outage |",
  "|---|---|---|---|---|---|---|",
  ...result.figures.map(row),
  "",
].join("\n");
writeFileSync(`${results}chaos.md`, md);
writeFileSync(
  `${results}chaos.json`,
  `${JSON.stringify({ passes, machine: m, loadBefore, loadAfter, ...result }, null, 2)}\n`,
);
process.stdout.write(`${md}\n`);
process.exit(result.violations.length === 0 ? 0 : 1);
