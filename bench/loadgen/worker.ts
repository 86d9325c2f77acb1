// One load-generator thread: many raw `ws` sockets, one JSON.parse per frame received, the
// frames it sends built as one template string each, in the protocol of the system under test
// (wire.ts). Latency is measured from the send timestamp carried in client_msg_id to the
// receipt on another member's socket.
import { parentPort } from "node:worker_threads";
import WebSocket from "ws";
import { record, reset } from "../lib/histogram.ts";
import {
  type Command,
  emptyStep,
  type OpenCommand,
  type SocketSpec,
  type StepCommand,
  type StepResult,
} from "./protocol.ts";
import { type WireSession, type WireSink, wires } from "./wire.ts";

if (parentPort === null) throw new Error("bench/loadgen/worker.ts runs as a worker thread");
const port = parentPort;

interface Sock {
  readonly ws: WebSocket;
  readonly gw: string;
  readonly wire: WireSession;
  inflight: number;
}

interface Room {
  readonly id: string;
  readonly members: Sock[];
  /** the members that send (all of them when none is marked a sender) */
  readonly senders: Sock[];
  next: number;
}

const socks: Sock[] = [];
let rooms: Room[] = [];
let seq = 0;
const now = () => performance.timeOrigin + performance.now();

const stats: StepResult = emptyStep(-1);
let currentStep = -1;
let lastReceipt = 0;

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

/** What a socket's frames count in the step's figures. */
function sinkOf(s: Sock): WireSink {
  return {
    delivered(cmid, text) {
      if (Number(text.slice(3)) !== currentStep) {
        stats.late++;
        return;
      }
      const t = now();
      const ms = t - Number(cmid.slice(cmid.indexOf(":") + 1));
      record(stats.all, ms);
      if (text.charCodeAt(1) !== s.gw.charCodeAt(0)) record(stats.cross, ms);
      stats.received++;
      lastReceipt = t;
    },
    acked(cmid) {
      s.inflight--;
      stats.acked++;
      record(stats.ack, now() - Number(cmid.slice(cmid.indexOf(":") + 1)));
    },
    failed(code, answered) {
      bump(stats.errors, code);
      if (answered) s.inflight = Math.max(0, s.inflight - 1);
    },
  };
}

function openOne(spec: SocketSpec, roomId: string | undefined): Promise<Sock> {
  const wire = wires[spec.wire ?? "switchboard"];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wire.url(spec), {
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
      ...(spec.localAddress === undefined ? {} : { localAddress: spec.localAddress }),
    });
    const session = wire.session(ws, spec, spec.sender === true ? undefined : roomId);
    const s: Sock = { ws, gw: String(spec.gw), wire: session, inflight: 0 };
    const sink = sinkOf(s);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("not ready in 60 s"));
    }, 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    ws.once("open", () => session.start());
    ws.once("error", fail);
    ws.once("unexpected-response", (_req, res) =>
      fail(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    const first = (data: WebSocket.RawData) => {
      let ready: boolean;
      try {
        ready = session.handshake(data.toString());
      } catch (err) {
        fail(err as Error);
        return;
      }
      if (!ready) return;
      clearTimeout(timer);
      ws.off("message", first);
      ws.off("error", fail);
      ws.on("message", (d) => session.frame(d.toString(), sink));
      ws.on("close", (code) => bump(stats.closes, String(code)));
      ws.on("error", () => bump(stats.errors, "socket"));
      resolve(s);
    };
    ws.on("message", first);
  });
}

async function open(cmd: OpenCommand): Promise<void> {
  const t0 = performance.now();
  rooms = cmd.rooms.map((id) => ({ id, members: [], senders: [], next: 0 }));
  const failures: Record<string, number> = {};
  let ok = 0;
  let i = 0;
  const lane = async () => {
    while (i < cmd.sockets.length) {
      const spec = cmd.sockets[i++] as SocketSpec;
      try {
        const room = spec.room === undefined ? undefined : rooms[spec.room];
        const s = await openOne(spec, room?.id);
        socks.push(s);
        room?.members.push(s);
        if (spec.sender === true) room?.senders.push(s);
        ok++;
      } catch (err) {
        bump(failures, (err as Error).message.slice(0, 80));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, lane));
  port.postMessage({
    op: "opened",
    ok,
    failed: cmd.sockets.length - ok,
    failures,
    ms: Math.round(performance.now() - t0),
  });
}

async function step(cmd: StepCommand): Promise<void> {
  for (const h of [stats.all, stats.cross, stats.ack]) reset(h);
  for (const m of [stats.errors, stats.closes]) for (const k of Object.keys(m)) delete m[k];
  Object.assign(stats, {
    step: cmd.step,
    sent: 0,
    throttled: 0,
    skipped: 0,
    acked: 0,
    expected: 0,
    received: 0,
    late: 0,
  });
  currentStep = cmd.step;
  const tag = `s${cmd.step}`;
  const start = now();
  let r = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = now() - start;
      const due = Math.floor((cmd.rate * Math.min(elapsed, cmd.durationMs)) / 1000);
      let attempts = due - stats.sent - stats.throttled - stats.skipped;
      // open loop: after a stall the generator catches up, by at most 1 s of traffic
      const cap = Math.ceil(cmd.rate) + 1;
      if (attempts > cap) {
        stats.skipped += attempts - cap;
        attempts = cap;
      }
      for (; attempts > 0 && rooms.length > 0; attempts--) {
        const room = rooms[r] as Room;
        r = (r + 1) % rooms.length;
        const senders = room.senders.length > 0 ? room.senders : room.members;
        const s = senders[room.next % senders.length] as Sock;
        room.next = (room.next + 1) % senders.length;
        if (s.inflight >= cmd.window || s.ws.readyState !== WebSocket.OPEN) {
          stats.throttled++;
          continue;
        }
        s.inflight++;
        stats.sent++;
        stats.expected += room.members.length - (room.senders.length > 0 ? room.senders.length : 1);
        s.wire.send(room.id, `${++seq}:${now()}`, `g${s.gw}${tag}`);
      }
      if (elapsed >= cmd.durationMs) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const deadline = now() + cmd.drainMs;
  while (stats.received < stats.expected && now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  stats.activeMs = Math.round(Math.max(lastReceipt, start) - start);
  port.postMessage(stats);
}

async function close(): Promise<void> {
  await Promise.all(
    socks.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.ws.readyState === WebSocket.CLOSED) return resolve();
          s.ws.once("close", () => resolve());
          s.ws.close(1000);
          setTimeout(() => {
            s.ws.terminate();
            resolve();
          }, 5_000).unref();
        }),
    ),
  );
  port.postMessage({ op: "closed" });
}

port.on("message", (cmd: Command) => {
  const run = cmd.op === "open" ? open(cmd) : cmd.op === "step" ? step(cmd) : close();
  run.catch((err: unknown) => {
    console.error("load generator worker failed", err);
    process.exit(1);
  });
});
