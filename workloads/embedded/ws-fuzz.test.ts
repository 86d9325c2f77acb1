// Generated bad frames (fast-check, workloads/shared/protocol/fuzz-frames.ts) on real sockets of
// a live gateway, beside a healthy pair of users chatting. Several fuzzing sockets send frames
// the parser refuses, as text and as binary, plus the two a WebSocket layer refuses at once (not
// UTF-8: 1007, over the frame size: 1009). Each socket is closed with 4006 once it spends its
// invalid-frame budget; it then reconnects and goes on. Every bad frame before a close got its
// documented error with its id; the healthy pair got every ack and every message, in order;
// /healthz answered throughout; and the heap after a forced GC grew by less than HEAP_BOUND.
// A bounded sample runs in CI (WS_FUZZ_FRAMES, 3,000 by default); raise it for a long run.
// With FUZZ_REPORT=<file>, the counts are written there as JSON (npm run fuzz reads them).
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import WebSocket from "ws";
import { ChatSocket, type Frame, Rest, type Session } from "../../e2e/testkit/index.ts";
import { INVALID_FRAME_BUDGET } from "../gateway/ws/server.ts";
import { CloseCodes } from "../shared/protocol/close-codes.ts";
import { frameInputs, textOf } from "../shared/protocol/fuzz-frames.ts";
import { parseClientFrame } from "../shared/protocol/parse.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

const FRAMES = Number(process.env.WS_FUZZ_FRAMES ?? 3_000);
if (!(Number.isInteger(FRAMES) && FRAMES > 0)) {
  throw new RangeError(`WS_FUZZ_FRAMES must be a positive integer, not ${FRAMES}`);
}
const FUZZERS = 4;
/** frames sent before waiting for their answers: well under the 64 a socket may have in flight */
const BATCH = 32;
const MAX_FRAME_BYTES = 16 * 1024;
/**
 * How much the heap may grow from start to end, after a forced GC: generous, because the
 * gateway keeps the healthy pair's messages (in memory, embedded) and the test keeps their
 * frames; a leak per fuzzed frame or per reconnect (tens of thousands in a long run) exceeds it.
 */
const HEAP_BOUND = 64 * 1024 * 1024;
/** the answers a refused frame may get (docs/protocol.md): its error, or a rate limit */
const DOCUMENTED = new Set(["INVALID_FRAME", "RATE_LIMITED"]);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapAfterGc = () => {
  gc();
  return process.memoryUsage();
};

/** one frame to send, and what it must get */
interface Bad {
  readonly data: string | Buffer;
  readonly binary: boolean;
  /** the id its error echoes */
  readonly id: string | undefined;
  /** the WebSocket layer closes the socket on it with this code, unanswered */
  readonly closes?: number;
}

/** the next bad frame from the generators */
function badFrames(seed: number): () => Bad {
  let pool: Bad[] = [];
  let n = 0;
  return () => {
    while (pool.length === 0) {
      pool = fc
        .sample(frameInputs, { numRuns: 256, seed: seed + n++ })
        .flatMap((input, i): Bad[] => {
          const text = textOf(input);
          const bytes = Buffer.from(text);
          if (bytes.length > MAX_FRAME_BYTES) {
            return [{ data: text, binary: false, id: undefined, closes: 1009 }];
          }
          if (i % 97 === 0) {
            // a text frame that is not UTF-8
            const broken = Buffer.concat([bytes, Buffer.from([0xc3, 0x28])]);
            return isUtf8(broken)
              ? []
              : [{ data: broken, binary: false, id: undefined, closes: 1007 }];
          }
          const parsed = parseClientFrame(text);
          if (i % 8 === 0)
            return [{ data: bytes, binary: true, id: parsed.ok ? parsed.frame.id : parsed.id }];
          return parsed.ok ? [] : [{ data: text, binary: false, id: parsed.id }];
        });
    }
    return pool.shift() as Bad;
  };
}

/** a socket that records its error answers and wakes its waiter on every frame or close */
class FuzzSocket {
  readonly errors: Frame[] = [];
  readonly others: Frame[] = [];
  closeCode: number | undefined;
  readonly ws: WebSocket;
  #wake: () => void = () => {};

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      (f.type === "error" ? this.errors : this.others).push(f);
      this.#wake();
    });
    ws.on("close", (code) => {
      this.closeCode = code;
      this.#wake();
    });
    ws.on("error", () => {});
  }

  static async open(base: string, token: string): Promise<FuzzSocket> {
    const url = `${base.replace(/^http/, "ws")}/v1/ws?access_token=${encodeURIComponent(token)}`;
    const s = new FuzzSocket(new WebSocket(url, { perMessageDeflate: false }));
    await new Promise<void>((resolve, reject) => {
      s.ws.once("open", () => resolve());
      s.ws.once("close", (code) => reject(new Error(`the socket closed with ${code} on opening`)));
      s.ws.once("unexpected-response", (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    s.ws.send(JSON.stringify({ type: "hello" }));
    await s.until("welcome", () => s.others.some((f) => f.type === "welcome"));
    return s;
  }

  /** resolves once `done()` holds (checked on every frame and close), or fails after timeoutMs */
  until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.#wake = () => {};
        resolve();
      };
    });
  }
}

describe("WebSocket frame fuzzing on a live gateway", () => {
  let cluster: InProcessCluster;
  let base: string;
  let alice: Session;
  let bob: Session;
  let fuzzers: Session[];
  let roomId: string;

  before(async () => {
    // a user bucket wide enough that the fuzzed frames mostly reach the parser's answers
    cluster = await startCluster({
      limits: { userRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 } },
    });
    base = cluster.urls[0] as string;
    const rest = new Rest(base);
    [alice, bob] = await Promise.all([rest.register("alice"), rest.register("bob")]);
    fuzzers = await Promise.all(
      Array.from({ length: FUZZERS }, (_, i) => rest.register(`fuzzer${i}`)),
    );
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "calm", members: [bob.userId] },
      alice.accessToken,
    );
    roomId = room.id;
  });

  after(async () => {
    await cluster.stop();
  });

  it(`answers ${FRAMES} generated bad frames as documented while a healthy pair chats`, async () => {
    const sender = await ChatSocket.open(base, alice.accessToken);
    const reader = await ChatSocket.open(base, bob.accessToken);
    const heapStart = heapAfterGc();
    const tally = {
      frames: 0,
      answered: 0,
      answeredWithId: 0,
      ignoredAfterClose: 0,
      reconnects: 0,
    };
    const byCode = new Map<string, number>();
    const closes = new Map<number, number>();
    let fuzzing = true;

    /** one fuzzing user: batches of bad frames, reconnecting after each close */
    const fuzz = async (user: Session, quota: number, seed: number) => {
      const next = badFrames(seed);
      let sock = await FuzzSocket.open(base, user.accessToken);
      let invalidOnSocket = 0;
      let sent = 0;
      while (sent < quota) {
        console.error(user.username, sent, sock.errors.length, sock.closeCode);
        const batch: Bad[] = [];
        while (batch.length < Math.min(BATCH, quota - sent)) {
          const bad = next();
          // a frame the WebSocket layer closes on goes alone: frames before it may go unanswered
          if (bad.closes !== undefined && batch.length > 0) continue;
          batch.push(bad);
          if (bad.closes !== undefined) break;
        }
        const from = sock.errors.length;
        for (const b of batch) sock.ws.send(b.data, { binary: b.binary });
        sent += batch.length;
        tally.frames += batch.length;
        await sock.until(
          `answers to ${batch.length} frames`,
          () => sock.errors.length - from >= batch.length || sock.closeCode !== undefined,
        );
        // on a close, everything the gateway answered came before its close frame
        const answers = sock.errors.slice(from);
        assert.ok(answers.length <= batch.length, `${answers.length} answers to ${batch.length}`);
        answers.forEach((f, i) => {
          const b = batch[i] as Bad;
          assert.ok(DOCUMENTED.has(f.code as string), `undocumented answer ${JSON.stringify(f)}`);
          assert.equal(f.id, b.id, `answer ${i} of the batch: ${JSON.stringify(f)}`);
          assert.equal(b.closes, undefined, "a frame the WebSocket layer refuses was answered");
          byCode.set(f.code as string, (byCode.get(f.code as string) ?? 0) + 1);
          if (b.id !== undefined) tally.answeredWithId++;
        });
        tally.answered += answers.length;
        invalidOnSocket += answers.length;
        if (sock.closeCode === undefined) continue;
        const code = sock.closeCode;
        closes.set(code, (closes.get(code) ?? 0) + 1);
        if (code === CloseCodes.INVALID_FRAMES.code) {
          assert.ok(
            invalidOnSocket > INVALID_FRAME_BUDGET.capacity,
            `closed with 4006 after ${invalidOnSocket} invalid frames`,
          );
        } else {
          assert.equal(code, batch[0]?.closes, `closed with ${code}`);
        }
        tally.ignoredAfterClose += batch.length - answers.length;
        sock = await FuzzSocket.open(base, user.accessToken);
        tally.reconnects++;
        invalidOnSocket = 0;
      }
      sock.ws.terminate();
    };

    /** /healthz, polled until the fuzzing ends: every answer 200 */
    const health = { ok: 0, failed: [] as string[] };
    const probe = (async () => {
      while (fuzzing) {
        try {
          const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
          if (r.status === 200) health.ok++;
          else health.failed.push(`status ${r.status}`);
        } catch (err) {
          health.failed.push(String(err));
        }
        await delay(250);
      }
    })();

    /** the healthy pair chats until the fuzzing ends */
    let chatted = 0;
    const chat = (async () => {
      while (fuzzing || chatted === 0) {
        await sender.sendMessages(roomId, 16, { prefix: `calm${chatted}-` });
        chatted += 16;
        // each round is acknowledged before the next (sending alone never yields to the loop)
        await sender.waitForCount((f) => f.type === "ack", chatted, "acks");
      }
    })();

    try {
      const per = Math.ceil(FRAMES / FUZZERS);
      await Promise.all(
        fuzzers.map((u, i) => fuzz(u, Math.min(per, FRAMES - i * per), i * 1_000_003)),
      );
    } finally {
      fuzzing = false;
      await Promise.allSettled([probe, chat]);
    }
    await chat;

    assert.deepEqual(health.failed, [], "/healthz failed during the fuzzing");
    assert.ok(health.ok > 0);
    assert.ok((closes.get(CloseCodes.INVALID_FRAMES.code) ?? 0) > 0 || FRAMES < 4 * 101);

    const acks = await sender.waitForCount((f) => f.type === "ack", chatted, "acks");
    const got = await reader.waitForCount(
      (f) => f.type === "message" && f.room_id === roomId,
      chatted,
      "messages at the healthy reader",
    );
    assert.deepEqual(
      got.map((f) => f.seq),
      acks.map((f) => f.seq),
    );
    assert.deepEqual(
      got.map((f) => f.client_msg_id),
      acks.map((_, i) => `calm${i - (i % 16)}-${i % 16}`),
    );
    assert.deepEqual(
      [...sender.frames, ...reader.frames].filter((f) => f.type === "error"),
      [],
    );
    assert.equal(sender.closeCode, undefined);
    assert.equal(reader.closeCode, undefined);
    await Promise.all([sender.close(), reader.close()]);

    const heapEnd = heapAfterGc();
    assert.ok(
      heapEnd.heapUsed - heapStart.heapUsed < HEAP_BOUND,
      `heap grew from ${heapStart.heapUsed} to ${heapEnd.heapUsed} bytes`,
    );
    if (process.env.FUZZ_REPORT) {
      writeFileSync(
        process.env.FUZZ_REPORT,
        JSON.stringify({
          target: "live gateway (embedded), WebSocket frames",
          inputs: tally.frames,
          ...tally,
          crashes: 0,
          errorsByCode: Object.fromEntries(byCode),
          closes: Object.fromEntries(closes),
          healthyMessages: chatted,
          healthz: health.ok,
          memory: {
            heapStart: heapStart.heapUsed,
            heapEnd: heapEnd.heapUsed,
            rssStart: heapStart.rss,
            rssEnd: heapEnd.rss,
          },
        }),
      );
    }
  });
});
