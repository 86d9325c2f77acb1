// Component benchmark: the gateway's fan-out of one delivery to a room's local sockets
// (workloads/gateway/ws/hub.ts): decode the forwarder's payload, build the message frame,
// serialize, write to each member's ws socket. Two parts:
// - serialize: CPU of decode + toMessageFrame + JSON.stringify, once per socket vs once per
//   message, no I/O;
// - write: a real ws server on loopback fanning out to rooms of clients held by a worker
//   thread; the server thread's own CPU per delivery (process.threadCpuUsage), per-socket
//   serialization vs one string per message.
// `node bench/fanout.ts [--rooms 100] [--room-size 10] [--deliveries 200000]`.
import { once } from "node:events";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import WebSocket, { WebSocketServer } from "ws";
import { toMessageFrame } from "../workloads/gateway/ws/hub.ts";
import { decodeDelivery, encode } from "../workloads/shared/events.ts";
import { beginRun, table, writeResults } from "./lib/results.ts";

if (!isMainThread) {
  // the clients: count frames, one JSON.parse each, as a real client would
  const { url, count } = workerData as { url: string; count: number };
  let received = 0;
  const socks: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("message", (d) => {
      if (JSON.parse(d.toString()).seq >= 0) received++;
    });
    socks.push(ws);
  }
  await Promise.all(socks.map((s) => once(s, "open")));
  parentPort?.postMessage({ op: "open" });
  parentPort?.on("message", (m: { op: string }) => {
    if (m.op === "count") parentPort?.postMessage({ op: "count", received });
    if (m.op === "close") for (const s of socks) s.terminate();
  });
} else {
  const { values: a } = parseArgs({
    options: {
      rooms: { type: "string", default: "100" },
      "room-size": { type: "string", default: "10" },
      deliveries: { type: "string", default: "200000" },
    },
  });
  const rooms = Number(a.rooms);
  const size = Number(a["room-size"]);
  const deliveries = Number(a.deliveries);
  const run = beginRun("fanout");

  const payload = (seq: number, roomId: string) =>
    encode({
      kind: "message",
      message: {
        roomId,
        seq,
        id: "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
        senderId: "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d",
        clientMsgId: `c-${seq}`,
        msgType: "text",
        content: { text: "hello there, how is the benchmark going today?" },
        createdAt: new Date(1_800_000_000_000 + seq).toISOString(),
      },
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });

  // ---- serialize only ----
  const roomId = "0b8a4f7e-2d7c-4c61-9d0e-5b7f0f3f4a21";
  const raw = payload(1, roomId);
  const serialize = (perSocket: boolean, members: number): number => {
    const n = 200_000 / members;
    let bytes = 0;
    const t0 = process.threadCpuUsage();
    for (let i = 0; i < n; i++) {
      const d = decodeDelivery(raw);
      if (d?.kind !== "message") throw new Error("bad payload");
      if (perSocket) {
        for (let k = 0; k < members; k++) bytes += JSON.stringify(toMessageFrame(d.message)).length;
      } else {
        const s = JSON.stringify(toMessageFrame(d.message));
        for (let k = 0; k < members; k++) bytes += s.length;
      }
    }
    const t = process.threadCpuUsage(t0);
    if (bytes === 0) throw new Error("nothing serialized");
    return (t.user + t.system) / (n * members); // µs per delivery
  };
  serialize(true, size);
  serialize(false, size);
  const ser = [true, false].map((perSocket) => ({
    variant: perSocket ? "stringify per socket" : "stringify once per message",
    usPerDelivery: Math.round(serialize(perSocket, size) * 1000) / 1000,
  }));
  for (const s of ser) console.log(`serialize, ${s.variant}: ${s.usPerDelivery} µs/delivery`);

  // ---- write to real sockets ----
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  const conns: WebSocket[] = [];
  wss.on("connection", (ws) => conns.push(ws));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { url: `ws://127.0.0.1:${port}`, count: rooms * size },
  });
  await once(worker, "message");
  while (conns.length < rooms * size) await new Promise((r) => setTimeout(r, 10));
  const roomsOf = Array.from({ length: rooms }, (_, r) => conns.slice(r * size, (r + 1) * size));
  const received = async (): Promise<number> => {
    const reply = once(worker, "message") as Promise<[{ received: number }]>;
    worker.postMessage({ op: "count" });
    return (await reply)[0].received;
  };

  type Variant = "per socket" | "once" | "once, as bytes";
  const label: Record<Variant, string> = {
    "per socket": "stringify per socket",
    once: "stringify once per message",
    "once, as bytes": "stringify once, UTF-8 Buffer shared by the sockets",
  };
  const write = async (variant: Variant, total: number) => {
    const messages = Math.floor(total / size);
    const start = await received();
    const t0 = process.threadCpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < messages; i++) {
      const d = decodeDelivery(payload(i, roomId));
      if (d?.kind !== "message") throw new Error("bad payload");
      const members = roomsOf[i % rooms] as WebSocket[];
      if (variant === "per socket") {
        for (const ws of members) ws.send(JSON.stringify(toMessageFrame(d.message)));
      } else if (variant === "once") {
        const s = JSON.stringify(toMessageFrame(d.message));
        for (const ws of members) ws.send(s);
      } else {
        const b = Buffer.from(JSON.stringify(toMessageFrame(d.message)));
        for (const ws of members) ws.send(b, { binary: false });
      }
      // let the event loop flush writes now and then, as a gateway between deliveries would
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    const t = process.threadCpuUsage(t0);
    while ((await received()) - start < messages * size) await new Promise((r) => setTimeout(r, 5));
    const wallMs = performance.now() - w0;
    return {
      variant: label[variant],
      deliveries: messages * size,
      serverUsPerDelivery: Math.round(((t.user + t.system) / (messages * size)) * 1000) / 1000,
      serverUserUs: Math.round((t.user / (messages * size)) * 1000) / 1000,
      serverSystemUs: Math.round((t.system / (messages * size)) * 1000) / 1000,
      deliveriesPerSecond: Math.round((messages * size) / (wallMs / 1000)),
    };
  };
  const variants: Variant[] = ["per socket", "once", "once, as bytes"];
  for (const v of variants) await write(v, 20_000);
  const wr = [];
  for (let rep = 0; rep < 2; rep++) for (const v of variants) wr.push(await write(v, deliveries));
  for (const w of wr)
    console.log(
      `write, ${w.variant}: ${w.serverUsPerDelivery} µs/delivery, ${w.deliveriesPerSecond}/s`,
    );
  worker.postMessage({ op: "close" });
  await worker.terminate();
  server.close();

  const out = writeResults(
    run,
    { rooms, roomSize: size, deliveries, clients: "one worker thread, one JSON.parse per frame" },
    { serialize: ser, write: wr },
    [
      {
        title: "Serialize only (µs of CPU per delivery)",
        body: table(
          ["variant", "µs/delivery"],
          ser.map((s) => [s.variant, s.usPerDelivery]),
        ),
      },
      {
        title: "Write to real ws sockets on loopback (server thread CPU)",
        body: `The server thread also pays the kernel's loopback TCP work (system time). The clients run in a worker thread of the same process, on the same 2 cores.\n\n${table(
          ["variant", "deliveries", "server µs/delivery", "user µs", "system µs", "deliveries/s"],
          wr.map((w) => [
            w.variant,
            w.deliveries,
            w.serverUsPerDelivery,
            w.serverUserUs,
            w.serverSystemUs,
            w.deliveriesPerSecond,
          ]),
        )}`,
      },
    ],
  );
  console.log(`wrote ${out.json} and ${out.md}`);
}
