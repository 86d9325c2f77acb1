// Component benchmark: the gateway's delivery step (workloads/gateway/ws/hub.ts) — a delivery
// payload as the forwarder sends it (a string off Redis pub/sub) to the frames written to the
// room's local sockets: decode, the room's sockets, each socket's cursor (order, gaps), the
// sender's ack instead of its frame, the frame serialized once per message. The hub runs over
// the memory backends and its sockets are stand-ins that count what they are given, so the
// figure is the gateway's own CPU without the kernel's socket writes (bench/fanout.ts measures
// those). `node bench/deliver.ts --help`.
import { parseArgs } from "node:util";
import type { WebSocket } from "ws";
import { createLogger } from "#contract/telemetry/log";
import { Sessions } from "../workloads/gateway/auth/sessions.ts";
import { DEFAULT_LIMITS } from "../workloads/gateway/config.ts";
import type { GatewayContext } from "../workloads/gateway/core/context.ts";
import { LiveSeqs } from "../workloads/gateway/core/live-seqs.ts";
import { Matching } from "../workloads/gateway/core/matching.ts";
import { Connection } from "../workloads/gateway/ws/connection.ts";
import { Hub } from "../workloads/gateway/ws/hub.ts";
import { memoryBackends } from "../workloads/shared/backends/connect.ts";
import type { Delivery } from "../workloads/shared/backends/delivery.ts";
import { encode } from "../workloads/shared/events.ts";
import { createMetrics } from "../workloads/shared/telemetry/metrics.ts";
import { round3 } from "./lib/machine.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    rooms: { type: "string", default: "100" },
    "room-size": { type: "string", default: "10" },
    deliveries: { type: "string", default: "200000" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log(`node bench/deliver.ts [--rooms 100] [--room-size 10 (local sockets per room)]
  [--deliveries 200000 (socket frames per run)]
Writes bench/results/deliver.json and .md.`);
  process.exit(0);
}
const rooms = Number(a.rooms);
const size = Number(a["room-size"]);
const deliveries = Number(a.deliveries);
const run = beginRun("deliver");
const GATEWAY = "gw-bench";

/** What the stand-in sockets were given. */
const written = { frames: 0, bytes: 0 };
const standIn = {
  bufferedAmount: 0,
  send(data: string | Buffer) {
    written.frames++;
    written.bytes += data.length;
  },
  close() {},
  terminate() {},
  ping() {},
} as unknown as WebSocket;

// the hub listens through this: the benchmark calls its listener directly, as a delivery would
let onPayload: ((payload: string) => void) | undefined;
const backends = memoryBackends();
const delivery: Delivery = {
  send: async () => 0,
  sendMany: async () => {},
  listen: async (_gatewayId, listener) => {
    onPayload = listener;
    return async () => {};
  },
  ping: async () => {},
  close: async () => {},
};
const ctx: GatewayContext = {
  ...backends,
  delivery,
  gatewayId: GATEWAY,
  topic: "bench",
  limits: DEFAULT_LIMITS,
  log: createLogger("bench-deliver", "silent"),
  metrics: createMetrics({ defaultMetrics: false }),
};
const hub = new Hub(ctx, new Matching(ctx), new Sessions(ctx), new LiveSeqs());
await hub.start();

const roomIds = Array.from(
  { length: rooms },
  (_, r) => `0b8a4f7e-2d7c-4c61-9d0e-${String(r).padStart(12, "0")}`,
);
const at = new Date(1_800_000_000_000);
/** each room's sockets; the first is its sender */
const sockets: Connection[][] = [];
for (const [r, roomId] of roomIds.entries()) {
  const userIds = Array.from({ length: size }, (_, j) => `user-${r}-${j}`);
  await backends.store.createRoom(
    {
      id: roomId,
      kind: "group",
      name: `bench-${r}`,
      createdBy: userIds[0] as string,
      createdAt: at,
    },
    userIds.map((userId, j) => ({
      roomId,
      userId,
      role: j === 0 ? "owner" : "member",
      joinedAt: at,
    })),
  );
  const conns = userIds.map(
    (userId) =>
      new Connection(
        standIn,
        { userId, username: userId, sessionId: `s-${userId}` },
        1 << 30,
        () => {},
      ),
  );
  for (const c of conns) {
    await hub.open(c, {});
    await hub.catchUpAll(c);
  }
  sockets.push(conns);
}

const seqs = new Map<string, number>();
const payload = (roomId: string, traced: boolean): { id: string; data: string } => {
  const seq = (seqs.get(roomId) ?? 0) + 1;
  seqs.set(roomId, seq);
  const id = `9f1c2d3e-4b5a-4c6d-8e7f-${roomId.slice(-6)}${seq.toString(16).padStart(6, "0")}`;
  const data = encode({
    kind: "message",
    message: {
      roomId,
      seq,
      id,
      senderId: "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d",
      clientMsgId: `c-${seq}`,
      msgType: "text",
      content: { text: "hello there, how is the benchmark going today?" },
      createdAt: new Date(1_800_000_000_000 + seq).toISOString(),
    },
    ...(traced ? { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } : {}),
  });
  return { id, data };
};

type Variant = { name: string; traced: boolean; senderHere: boolean };
const variants: Variant[] = [
  { name: "receivers only", traced: false, senderHere: false },
  { name: "receivers + the sender's ack", traced: false, senderHere: true },
  { name: "receivers + the sender's ack, with a traceparent", traced: true, senderHere: true },
];

async function measure(v: Variant, total: number) {
  const listener = onPayload;
  if (listener === undefined) throw new Error("the hub is not listening");
  const messages = Math.floor(total / size);
  const items = Array.from({ length: messages }, (_, i) => {
    const r = i % rooms;
    return { r, ...payload(roomIds[r] as string, v.traced) };
  });
  const before = { ...written };
  const cpu0 = process.threadCpuUsage();
  const t0 = performance.now();
  for (const [i, item] of items.entries()) {
    if (v.senderHere) hub.expectAck(sockets[item.r]?.[0] as Connection, item.id, `r${i}`);
    listener(item.data);
    // let the event loop turn now and then, as a gateway between deliveries would
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.threadCpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const frames = written.frames - before.frames;
  if (frames !== messages * size)
    throw new Error(`${frames} frames written, not ${messages * size}`);
  const us = cpu.user + cpu.system;
  return {
    variant: v.name,
    messages,
    frames,
    usPerFrame: round3(us / frames),
    usPerMessage: round3(us / messages),
    framesPerS: Math.round(frames / (wallMs / 1000)),
    bytesPerFrame: Math.round((written.bytes - before.bytes) / frames),
  };
}

for (const v of variants) await measure(v, 20_000); // warm-up
const rows = [];
for (let rep = 0; rep < 2; rep++) {
  for (const v of variants) {
    const row = await measure(v, deliveries);
    rows.push(row);
    console.log(
      `${row.variant}: ${row.usPerFrame} µs/frame, ${row.usPerMessage} µs/message, ${row.framesPerS} frames/s`,
    );
  }
}
await hub.stop();
await backends.close();

const out = writeResults(
  run,
  {
    rooms,
    localSocketsPerRoom: size,
    deliveries,
    sockets: "stand-ins that count (no kernel writes)",
  },
  { rows },
  [
    {
      title: "Hub: a delivery payload to its sockets' frames (one thread, CPU)",
      body: `A message reaches every one of the room's ${size} local sockets: as a message frame, or — for the room's sender, when it waits for one — as its ack. µs are the thread's CPU per frame written and per message delivered.\n\n${table(
        ["variant", "messages", "frames", "µs/frame", "µs/message", "frames/s", "bytes/frame"],
        rows.map((r) => [
          r.variant,
          r.messages,
          r.frames,
          r.usPerFrame,
          r.usPerMessage,
          r.framesPerS,
          r.bytesPerFrame,
        ]),
      )}`,
    },
  ],
);
console.log(`wrote ${out.json} and ${out.md}`);
