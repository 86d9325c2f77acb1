// Kafka fail-over benchmark: how long a consumer group stops consuming when one member is
// SIGKILLed, and when Kafka itself is, for each candidate client and configuration
// (clients.ts). It kills a Kafka of its own: never point it at the shared stack.
//
//   SWITCHBOARD_STATE=/tmp/x/state SB_KAFKA_PORT=29092 SB_KAFKA_CONTROLLER_PORT=29093 hack/parts/kafka.sh up
//   SWITCHBOARD_STATE=/tmp/x/state SB_KAFKA_PORT=29092 SB_KAFKA_CONTROLLER_PORT=29093 \
//     node bench/kafka-failover/main.ts [--only name,name] [--rate 100] [--repeat 1] [--name kafka-failover]
//
// Per candidate: a topic with 6 partitions, a producer child at a steady rate (acks = all,
// idempotent) and two member children A and B. Once both consume: 8 s steady (produce latency),
// SIGKILL B and restart it 1 s later with the same instance id (a container restarted in its
// Pod), then SIGKILL Kafka, restart it 2 s later, and time the recovery.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { beginRun, table, writeResults } from "../lib/results.ts";
import { candidates } from "./clients.ts";
import { createTopicIfMissing, jsonLogCreator } from "./kafkajs-bus.ts";
import type { FromMember, FromProducer } from "./messages.ts";

const { values: a } = parseArgs({
  options: {
    only: { type: "string" },
    rate: { type: "string", default: "100" },
    repeat: { type: "string", default: "1" },
    "skip-kafka-kill": { type: "boolean", default: false },
    name: { type: "string", default: "kafka-failover" },
  },
});
const state = process.env.SWITCHBOARD_STATE;
const port = process.env.SB_KAFKA_PORT;
if (state === undefined || port === undefined || port === "19092") {
  throw new Error("set SWITCHBOARD_STATE and SB_KAFKA_PORT to a Kafka of your own (this kills it)");
}
const brokers = [`127.0.0.1:${port}`];
const rate = Number(a.rate);
const PARTITIONS = 6;
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const kafkaSh = fileURLToPath(new URL("../../hack/parts/kafka.sh", import.meta.url));
const chosen =
  a.only === undefined ? candidates : candidates.filter((c) => a.only?.split(",").includes(c.name));

/** the children's stderr (client log lines), one file each under $SWITCHBOARD_STATE/logs */
const childLog = (who: string) =>
  createWriteStream(`${state}/logs/bench-${who}.log`, { flags: "a" });
const log = (msg: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);

/** true when a Kafka ApiVersions v0 request gets its answer (as hack/parts/kafka.sh checks). */
function brokerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port: Number(port) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write(Buffer.from("0000000c001200000000534200027362", "hex")));
    s.on("data", (d) =>
      done(d.length >= 10 && d.readUInt32BE(4) === 0x5342 && d.readInt16BE(8) === 0),
    );
  });
}

async function until<T>(
  what: string,
  f: () => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = f();
    if (v !== undefined) return v;
    await delay(50);
  }
  log(`  gave up waiting for ${what} after ${timeoutMs} ms`);
  return undefined;
}

interface Events {
  batches: (FromMember & { t: "batch"; who: string })[];
  assignment: Map<string, number[]>;
  /** when each member last reported an assignment (or a start) */
  reportedAt: Map<string, number>;
  acks: (FromProducer & { t: "ack" })[];
  sequential: number[] | undefined;
  fails: number;
}

function member(
  name: string,
  groupId: string,
  topic: string,
  who: string,
  ev: Events,
): ChildProcess {
  const child = fork(here("./member.ts"), [name, brokers.join(","), groupId, topic, who], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  child.stderr?.pipe(childLog(who), { end: false });
  child.on("message", (m: FromMember) => {
    if (m.t === "assign") ev.assignment.set(who, m.partitions);
    if (m.t !== "batch") ev.reportedAt.set(who, m.at);
    else if (m.t === "batch") ev.batches.push({ ...m, who });
  });
  return child;
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const secs = (ms: number | undefined) =>
  ms === undefined || Number.isNaN(ms) ? "—" : (ms / 1000).toFixed(1);

interface Figures {
  candidate: string;
  /** one send after the other (the client's own latency) */
  seqP50Ms: number;
  seqP99Ms: number;
  /** open loop at the steady rate (queueing behind other sends included) */
  produceP50Ms: number;
  produceP99Ms: number;
  produceCount: number;
  survivorPartitions: number[];
  deadPartitions: number[];
  /** longest wait of a record on the survivor's partitions, from the kill to the end of the window */
  survivorMaxWaitMs: number;
  /** longest time without any consumption on one of the survivor's partitions after the kill */
  survivorMaxGapMs: number;
  /** kill → every one of the dead member's partitions consumed again */
  deadResumeMs: number | undefined;
  deadMaxWaitMs: number;
  /** kill → the restarted member's last assignment or start report (its process start included) */
  restartedMemberMs: number | undefined;
  /** Kafka ready → first acknowledged produce */
  kafkaProduceResumeMs: number | undefined;
  /** Kafka ready → every partition consumed again */
  kafkaConsumeResumeMs: number | undefined;
  kafkaDownMs: number;
}

async function runOne(c: (typeof candidates)[number], kafka: Kafka): Promise<Figures> {
  const topic = `failover-${c.name}-${Date.now()}`;
  const groupId = `${topic}-g`;
  // right after the previous candidate restarted Kafka, metadata may still be loading
  for (let attempt = 1; ; attempt++) {
    try {
      await createTopicIfMissing(kafka, topic, PARTITIONS);
      break;
    } catch (err) {
      if (attempt === 5) throw err;
      log(`  creating ${topic} failed (${err}), again in 2 s`);
      await delay(2_000);
    }
  }
  const ev: Events = {
    batches: [],
    assignment: new Map(),
    reportedAt: new Map(),
    acks: [],
    sequential: undefined,
    fails: 0,
  };
  const producer = fork(
    here("./producer.ts"),
    [c.name, brokers.join(","), topic, String(rate), "60", "300"],
    {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    },
  );
  producer.stderr?.pipe(childLog("producer"), { end: false });
  producer.on("message", (m: FromProducer) => {
    if (m.t === "ack") ev.acks.push(m);
    else if (m.t === "fail") ev.fails++;
    else if (m.t === "sequential") ev.sequential = m.latencies;
  });
  const children: ChildProcess[] = [producer];
  try {
    children.push(member(c.name, groupId, topic, "member-a", ev));
    let b = member(c.name, groupId, topic, "member-b", ev);
    children.push(b);
    const t0 = Date.now();
    const consumingAll = () => {
      const pa = ev.assignment.get("member-a") ?? [];
      const pb = ev.assignment.get("member-b") ?? [];
      if (pa.length === 0 || pb.length === 0 || pa.length + pb.length !== PARTITIONS)
        return undefined;
      const seen = new Set(ev.batches.filter((x) => x.at > t0).map((x) => x.partition));
      return seen.size === PARTITIONS ? true : undefined;
    };
    if ((await until("both members consuming", consumingAll, 90_000)) === undefined) {
      throw new Error("the group never settled with two members");
    }
    const sequentialDone = () => (ev.sequential !== undefined ? true : undefined);
    if ((await until("the sequential sends", sequentialDone, 120_000)) === undefined) {
      throw new Error("the producer never finished its sequential sends");
    }
    await delay(2_000); // the open loop settles
    log(
      `  settled after ${Date.now() - t0} ms: a=${ev.assignment.get("member-a")} b=${ev.assignment.get("member-b")}`,
    );
    const steadyFrom = Date.now();
    await delay(8_000);
    const steady = ev.acks.filter((x) => x.at >= steadyFrom).map((x) => x.latencyMs);

    // SIGKILL one member, restart it with the same instance id a second later
    const survivor = [...(ev.assignment.get("member-a") ?? [])];
    const dead = [...(ev.assignment.get("member-b") ?? [])];
    const killedAt = Date.now();
    b.kill("SIGKILL");
    await delay(1_000);
    b = member(c.name, groupId, topic, "member-b", ev);
    children.push(b);
    const deadResumed = await until(
      "the dead member's partitions consumed again",
      () => {
        const firsts = dead.map(
          (p) => ev.batches.find((x) => x.at > killedAt && x.partition === p)?.at,
        );
        return firsts.every((f) => f !== undefined) ? Math.max(...firsts) - killedAt : undefined;
      },
      75_000,
    );
    const rejoined = ev.reportedAt.get("member-b") ?? 0;
    const restartedMemberMs = rejoined > killedAt ? rejoined - killedAt : undefined;
    const windowEnd = Math.max(Date.now() + 5_000, killedAt + 20_000);
    await delay(windowEnd - Date.now());
    const windowed = ev.batches.filter((x) => x.at > killedAt && x.at <= windowEnd);
    const waitOn = (ps: number[]) =>
      Math.max(
        0,
        ...windowed.filter((x) => ps.includes(x.partition)).map((x) => x.at - x.oldestSentAt),
      );
    let gap = 0;
    for (const p of survivor) {
      const times = [
        killedAt,
        ...windowed.filter((x) => x.partition === p).map((x) => x.at),
        windowEnd,
      ];
      for (let i = 1; i < times.length; i++)
        gap = Math.max(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
    }
    log(
      `  member kill: survivor wait ${waitOn(survivor)} ms, gap ${gap} ms, dead resumed ${deadResumed} ms, restarted member in the group ${restartedMemberMs} ms`,
    );

    let kafkaProduceResumeMs: number | undefined;
    let kafkaConsumeResumeMs: number | undefined;
    let kafkaDownMs = 0;
    if (!a["skip-kafka-kill"]) {
      const pid = Number(readFileSync(`${state}/pids/kafka.pid`, "utf8").trim());
      const downAt = Date.now();
      process.kill(pid, "SIGKILL");
      await delay(2_000);
      // kafka.sh up, once more if it fails (a port the killed JVM still held, say)
      const upDone = (async () => {
        for (let attempt = 1; attempt <= 3; attempt++) {
          const up = spawn(kafkaSh, ["up"], {
            stdio: ["ignore", "pipe", "pipe"],
            env: process.env,
          });
          up.stdout?.pipe(childLog("kafka-up"), { end: false });
          up.stderr?.pipe(childLog("kafka-up"), { end: false });
          const code = await new Promise((resolve) => up.on("exit", resolve));
          if (code === 0) return;
          log(`  kafka.sh up exited with ${code} (attempt ${attempt})`);
          await delay(2_000);
        }
      })();
      let readyAt = 0;
      while (readyAt === 0) {
        if (await brokerAnswers()) readyAt = Date.now();
        else if (Date.now() - downAt > 120_000) throw new Error("Kafka did not come back in 120 s");
        else await delay(100);
      }
      kafkaDownMs = readyAt - downAt;
      await upDone;
      const resumed = await until(
        "every partition consumed after Kafka's return",
        () => {
          const firsts = Array.from(
            { length: PARTITIONS },
            (_, p) =>
              ev.batches.find(
                (x) => x.at > readyAt && x.partition === p && x.oldestSentAt > readyAt,
              )?.at,
          );
          return firsts.every((f) => f !== undefined) ? Math.max(...firsts) - readyAt : undefined;
        },
        90_000,
      );
      kafkaConsumeResumeMs = resumed;
      const firstAck = ev.acks.find((x) => x.at > readyAt);
      kafkaProduceResumeMs = firstAck === undefined ? undefined : firstAck.at - readyAt;
      log(
        `  Kafka kill: down ${kafkaDownMs} ms, produce resumed ${kafkaProduceResumeMs} ms, consume resumed ${resumed} ms`,
      );
    }
    return {
      candidate: c.name,
      seqP50Ms: pct(ev.sequential ?? [], 50),
      seqP99Ms: pct(ev.sequential ?? [], 99),
      produceP50Ms: pct(steady, 50),
      produceP99Ms: pct(steady, 99),
      produceCount: steady.length,
      survivorPartitions: survivor,
      deadPartitions: dead,
      survivorMaxWaitMs: waitOn(survivor),
      survivorMaxGapMs: gap,
      deadResumeMs: deadResumed,
      deadMaxWaitMs: waitOn(dead),
      restartedMemberMs,
      kafkaProduceResumeMs,
      kafkaConsumeResumeMs,
      kafkaDownMs,
    };
  } finally {
    for (const ch of children) ch.kill("SIGKILL");
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [topic], timeout: 10_000 }))
      .catch((err: unknown) => log(`  could not delete ${topic}: ${err}`))
      .finally(() => admin.disconnect());
  }
}

const NOTES = `
- A record's wait runs from the producer's send() to its consumption, so it includes the
  produce latency (open loop: seconds when sends queue up). The gap is the consumer's own
  figure: the longest time without any record consumed on one of the survivor's partitions,
  from the kill to the end of the window (at least 20 s after the kill).
- B is SIGKILLed and restarted 1 s later under the same instance id; "restarted member's last
  report" includes starting Node and the client on this machine.
- "Kafka ready" is the first answered ApiVersions request after the restart; consumption counts
  only records sent after it. "—": not within 90 s.
- Produce latency: acks = all, idempotent; "sequential" is 300 sends one after another before
  the open loop starts, "open loop" the steady phase at the given rate.
`;
const run = beginRun(a.name);
const kafka = new Kafka({
  clientId: "bench-admin",
  brokers,
  logLevel: logLevel.NOTHING,
  logCreator: jsonLogCreator,
});
const results: Figures[] = [];
for (let r = 0; r < Number(a.repeat); r++) {
  for (const c of chosen) {
    log(`${c.name} (run ${r + 1})`);
    results.push(await runOne(c, kafka));
  }
}
const ms = (x: number) => (Number.isNaN(x) ? "—" : x.toFixed(1));
const rows = results.map((f) => [
  f.candidate,
  `${ms(f.seqP50Ms)} / ${ms(f.seqP99Ms)}`,
  `${ms(f.produceP50Ms)} / ${ms(f.produceP99Ms)}`,
  secs(f.survivorMaxWaitMs),
  secs(f.survivorMaxGapMs),
  secs(f.deadResumeMs),
  secs(f.deadMaxWaitMs),
  secs(f.restartedMemberMs),
  secs(f.kafkaProduceResumeMs),
  secs(f.kafkaConsumeResumeMs),
]);
const out = writeResults(
  run,
  {
    rate,
    partitions: PARTITIONS,
    keys: 60,
    brokers: brokers.join(","),
    candidates: chosen.map((c) => c.name),
  },
  { results },
  [
    {
      title: "Figures (seconds unless stated)",
      body: table(
        [
          "candidate",
          "produce p50 / p99 ms, sequential",
          "produce p50 / p99 ms, open loop",
          "survivor's partitions: longest record wait after the kill",
          "survivor's partitions: longest gap",
          "kill → dead member's partitions consumed again",
          "dead member's partitions: longest record wait",
          "kill → restarted member's last report (its start included)",
          "Kafka ready → first produce ack",
          "Kafka ready → every partition consumed",
        ],
        rows,
      ),
    },
    { title: "Candidates", body: chosen.map((c) => `- ${c.name}: ${c.describe}`).join("\n") },
    { title: "How to read it", body: NOTES },
  ],
);
log(`wrote ${out.md}`);
process.exit(0);
