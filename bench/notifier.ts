// Component benchmark: what the notifier costs per message, beside the forwarder, on the real
// stack (decision 0022: a component of its own or a step inside the forwarder). A gateway, a
// forwarder and a notifier run as processes on the shared Kafka, Cassandra and Redis; senders
// push messages of three mixes through the gateway — plain group messages (no one to notify,
// the common case), mentions of an offline member, direct messages to an offline member — and
// the CPU each process used is read from /proc and divided by the messages. The notifier's
// figure for the plain mix is what reading the topic a second time costs (the price of a
// separate consumer group); the other mixes add its Cassandra reads and writes.
// Both processes also spend CPU while idle (fetch polls, heartbeats, probes): that rate is measured
// first and subtracted, so the figures are per message. `node bench/notifier.ts [--messages 2000]
// [--senders 8] [--window 8] [--repeats 2] [--idle-seconds 10]`.
import { parseArgs } from "node:util";
import { ChatSocket, ChatStack, Rest, type Session, waitFor } from "../e2e/testkit/index.ts";
import { load, procSample, round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    messages: { type: "string", default: "2000" },
    senders: { type: "string", default: "8" },
    repeats: { type: "string", default: "2" },
    window: { type: "string", default: "8" },
    "idle-seconds": { type: "string", default: "10" },
  },
});
const messages = Number(a.messages);
const senders = Number(a.senders);
const repeats = Number(a.repeats);
/** sends in flight per sender */
const windowSize = Number(a.window);
const idleSeconds = Number(a["idle-seconds"]);
const run = beginRun("notifier");

type Mix = "plain" | "mention" | "direct";
interface Row {
  mix: Mix;
  repeat: number;
  messages: number;
  notifications: number;
  seconds: number;
  /** CPU above the idle rate, per message */
  forwarderCpuUsPerMsg: number;
  notifierCpuUsPerMsg: number;
  /** notifier CPU / forwarder CPU */
  ratio: number;
  load1: number;
}

/** The sum of every series of a /metrics page whose line starts with `prefix`. */
async function counter(url: string, prefix: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  let total = 0;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith(prefix)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

const stack = await ChatStack.start({ gateways: 1, forwarders: 1, notifiers: 1, partitions: 4 });
try {
  const gateway = stack.gateways[0];
  const forwarder = stack.forwarders[0];
  const notifier = stack.notifiers[0];
  if (!gateway || !forwarder || !notifier) throw new Error("the stack did not start");
  const fPid = forwarder.child.pid ?? 0;
  const nPid = notifier.child.pid ?? 0;
  const [fUrl, nUrl] = [forwarder.url, notifier.url];
  const rest = new Rest(gateway.url);
  const offline = await rest.register("offline");
  const users: Session[] = [];
  for (let i = 0; i < senders; i++) users.push(await rest.register(`sender${i}`));
  // each sender has a group room with the offline user and a direct room with them
  const rooms = await Promise.all(
    users.map((u, i) =>
      rest.ok(
        "POST",
        "/v1/rooms",
        { kind: "group", name: `room ${i}`, members: [offline.userId] },
        u.accessToken,
      ),
    ),
  );
  const sockets = await Promise.all(users.map((u) => ChatSocket.open(gateway.url, u.accessToken)));

  const notifierEvents = () => counter(nUrl, 'switchboard_notifier_events_total{kind="message"');
  const notificationsMade = () => counter(nUrl, "switchboard_notifier_notifications_total{");
  const forwarderEvents = () => counter(fUrl, 'switchboard_forwarder_events_total{kind="message"');

  async function phase(mix: Mix, repeat: number): Promise<Row> {
    const [n0, f0, k0] = await Promise.all([
      notifierEvents(),
      forwarderEvents(),
      notificationsMade(),
    ]);
    const fCpu0 = procSample(fPid)?.cpuSec ?? 0;
    const nCpu0 = procSample(nPid)?.cpuSec ?? 0;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      sockets.flatMap((s, i) =>
        Array.from({ length: windowSize }, async () => {
          while (next < messages) {
            const k = next++;
            const frame =
              mix === "direct"
                ? { to_user_id: offline.userId, content: { text: `direct ${k}` } }
                : {
                    room_id: rooms[i].id,
                    content: { text: mix === "mention" ? `@offline look ${k}` : `plain ${k}` },
                  };
            const ack = await s.request({
              type: "message",
              client_msg_id: `${mix}-${repeat}-${k}`,
              msg_type: "text",
              ...frame,
            });
            if (ack.type !== "ack") throw new Error(`not acked: ${JSON.stringify(ack)}`);
          }
        }),
      ),
    );
    await waitFor(
      "the forwarder and the notifier to handle every message",
      async () => {
        const [n, f] = await Promise.all([notifierEvents(), forwarderEvents()]);
        return n - n0 >= messages && f - f0 >= messages ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const fCpu = (procSample(fPid)?.cpuSec ?? 0) - fCpu0 - idle.forwarder * seconds;
    const nCpu = (procSample(nPid)?.cpuSec ?? 0) - nCpu0 - idle.notifier * seconds;
    const row: Row = {
      mix,
      repeat,
      messages,
      notifications: (await notificationsMade()) - k0,
      seconds: round3(seconds),
      forwarderCpuUsPerMsg: Math.round((fCpu * 1e6) / messages),
      notifierCpuUsPerMsg: Math.round((nCpu * 1e6) / messages),
      ratio: round3(nCpu / fCpu),
      load1: load()[0],
    };
    console.log(JSON.stringify(row));
    return row;
  }

  // the direct rooms exist before any phase is measured (their creation is not a message)
  await Promise.all(
    sockets.map((s, i) =>
      s.request({
        type: "message",
        to_user_id: offline.userId,
        client_msg_id: `open-${i}`,
        msg_type: "text",
        content: { text: "hello" },
      }),
    ),
  );
  // CPU seconds per second each process spends with nothing to do
  const f0 = procSample(fPid)?.cpuSec ?? 0;
  const n0 = procSample(nPid)?.cpuSec ?? 0;
  const i0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const idleFor = (performance.now() - i0) / 1000;
  const idle = {
    forwarder: ((procSample(fPid)?.cpuSec ?? 0) - f0) / idleFor,
    notifier: ((procSample(nPid)?.cpuSec ?? 0) - n0) / idleFor,
  };
  console.log(JSON.stringify({ idleCpuPerSecond: idle }));
  // warm both processes (JIT, prepared statements, room-kind cache) before measuring
  await phase("plain", 0);
  await phase("mention", 0);
  const rows: Row[] = [];
  for (let r = 1; r <= repeats; r++) {
    for (const mix of ["plain", "mention", "direct"] as const) rows.push(await phase(mix, r));
  }
  await Promise.all(sockets.map((s) => s.close()));
  const body = table(
    [
      "mix",
      "repeat",
      "messages",
      "notifications",
      "s",
      "forwarder CPU µs/msg",
      "notifier CPU µs/msg",
      "notifier / forwarder",
      "load 1m",
    ],
    rows.map((r) => [
      r.mix,
      r.repeat,
      r.messages,
      r.notifications,
      r.seconds,
      r.forwarderCpuUsPerMsg,
      r.notifierCpuUsPerMsg,
      r.ratio,
      r.load1,
    ]),
  );
  const idleLine = `Idle CPU (subtracted): forwarder ${round3(idle.forwarder * 1000)} ms/s, notifier ${round3(idle.notifier * 1000)} ms/s.`;
  const out = writeResults(
    run,
    { messages, senders, windowSize, repeats, idleSeconds },
    { idle, rows },
    [
      {
        title: "CPU per message: the notifier beside the forwarder (real stack)",
        body: `${idleLine}\n\n${body}`,
      },
    ],
  );
  console.log(body);
  console.log(`wrote ${out.md}`);
} finally {
  await stack.stop();
}
