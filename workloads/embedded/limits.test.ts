// The socket limits that protect a gateway pod from its own clients: a client that stops
// answering pings is closed with IDLE_TIMEOUT, and one that stops reading is dropped with
// SLOW_CONSUMER before its unsent frames can grow without bound. Neither disturbs the others.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { ChatSocket, Rest, type Session, waitFor } from "../../e2e/testkit/index.ts";
import type { GatewayLimits } from "../gateway/core/context.ts";
import { CloseCodes } from "../shared/protocol/close-codes.ts";
import { createMetrics, type Metrics } from "../shared/telemetry/metrics.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

/** the value of switchboard_gateway_disconnects_total{reason} */
async function disconnects(metrics: Metrics, reason: string): Promise<number> {
  const m = await metrics.disconnects.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

interface Chat {
  readonly cluster: InProcessCluster;
  readonly metrics: Metrics;
  readonly alice: Session;
  readonly bob: Session;
  readonly carol: Session;
  readonly roomId: string;
}

/** one gateway with these limits, and alice, bob and carol in a group room */
async function startChat(limits: Partial<GatewayLimits>): Promise<Chat> {
  const metrics = createMetrics({ defaultMetrics: false });
  const cluster = await startCluster({ metrics, limits });
  const rest = new Rest(cluster.urls[0] as string);
  const [alice, bob, carol] = await Promise.all([
    rest.register("alice"),
    rest.register("bob"),
    rest.register("carol"),
  ]);
  const room = await rest.ok(
    "POST",
    "/v1/rooms",
    { kind: "group", name: "limits", members: [bob.userId, carol.userId] },
    alice.accessToken,
  );
  return { cluster, metrics, alice, bob, carol, roomId: room.id };
}

describe("idle timeout", () => {
  let chat: Chat;
  before(async () => {
    // short enough for a quick test, long enough that the live socket's pong (answered by the
    // ws client in this same busy process) is never late: at 50 ms a pong seen 133 ms after its
    // ping on the loaded shared machine had the live socket closed too
    chat = await startChat({ heartbeatMs: 250 });
  });
  after(async () => {
    await chat.cluster.stop();
  });

  it("closes a socket that stops answering pings with IDLE_TIMEOUT and keeps a live one", async () => {
    const url = `${(chat.cluster.urls[0] as string).replace(/^http/, "ws")}/v1/ws`;
    const mute = new WebSocket(`${url}?access_token=${encodeURIComponent(chat.bob.accessToken)}`, {
      autoPong: false,
      perMessageDeflate: false,
    });
    let muteClose: number | undefined;
    mute.on("close", (code) => {
      muteClose = code;
    });
    const live = await ChatSocket.open(chat.cluster.urls[0] as string, chat.carol.accessToken);
    try {
      await waitFor("the mute socket to be closed", () => muteClose, { timeoutMs: 10_000 });
      assert.equal(await disconnects(chat.metrics, "IDLE_TIMEOUT"), 1);
      assert.equal(muteClose, CloseCodes.IDLE_TIMEOUT.code);
      // the live socket answered every ping and still works
      assert.equal(live.closeCode, undefined);
      const pong = await live.request({ type: "ping" });
      assert.equal(pong.type, "pong");
    } finally {
      mute.terminate();
      await live.close();
    }
  });
});

describe("slow consumers", () => {
  let chat: Chat;
  before(async () => {
    // the default heartbeat (30 s) is far off: the stalled client is caught by its buffer alone
    chat = await startChat({
      maxBufferedBytes: 64 * 1024,
      userRate: { capacity: 100_000, refillPerSecond: 100_000 },
    });
  });
  after(async () => {
    await chat.cluster.stop();
  });

  it("drops a member who stops reading with a 4003 close frame; the others get every message", async () => {
    const base = chat.cluster.urls[0] as string;
    const sender = await ChatSocket.open(base, chat.alice.accessToken);
    const reader = await ChatSocket.open(base, chat.carol.accessToken);
    const stalled = await stalledClient(base, chat.bob.accessToken);
    const before = await disconnects(chat.metrics, "SLOW_CONSUMER");
    const text = "x".repeat(3_900);
    let sent = 0;
    try {
      // bob's hello was served once carol sees him online
      await reader.waitFor(
        (f) => f.type === "presence" && (f.online as string[]).includes(chat.bob.userId),
        "bob online",
      );
      // 3.9 KB frames until the gateway gives up on the stalled socket (the loopback buffers
      // take a few MB first); bounded, so a gateway that never drops it fails the test
      while ((await disconnects(chat.metrics, "SLOW_CONSUMER")) === before) {
        assert.ok(sent < 20_000, "the stalled socket was never dropped");
        const batch = 50;
        for (let i = 0; i < batch; i++) {
          sender.send({
            type: "message",
            room_id: chat.roomId,
            client_msg_id: `slow-${sent + i}`,
            msg_type: "text",
            content: { text },
          });
        }
        sent += batch;
        await sender.waitForCount((f) => f.type === "ack", sent, "acks", 30_000);
      }
      const got = await reader.waitForCount(
        (f) => f.type === "message" && f.room_id === chat.roomId,
        sent,
        "messages at the healthy reader",
        30_000,
      );
      const seqs = got.map((f) => f.seq as number);
      const first = seqs[0] as number;
      assert.deepEqual(
        seqs,
        Array.from({ length: sent }, (_, i) => first + i),
      );
      assert.equal(reader.closeCode, undefined);
      // reading again, the dropped client gets what was queued, then the close frame with 4003
      // (not a reset: the client learns that it may reconnect and resume)
      assert.equal(await stalled.resumeUntilClosed(), CloseCodes.SLOW_CONSUMER.code);
    } finally {
      stalled.destroy();
      await Promise.all([sender.close(), reader.close()]);
    }
  });
});

describe("abusive sockets", () => {
  let chat: Chat;
  let abusers: Session[];
  before(async () => {
    chat = await startChat({});
    const rest = new Rest(chat.cluster.urls[0] as string);
    abusers = await Promise.all([1, 2, 3, 4].map((i) => rest.register(`mallory${i}`)));
  });
  after(async () => {
    await chat.cluster.stop();
  });

  it("closes sockets that keep sending invalid frames, answering each one up to the close, while a healthy pair chats", async () => {
    const base = chat.cluster.urls[0] as string;
    const sender = await ChatSocket.open(base, chat.alice.accessToken);
    const reader = await ChatSocket.open(base, chat.bob.accessToken);
    const bad = await Promise.all(abusers.map((u) => ChatSocket.open(base, u.accessToken)));
    const n = 3_000;
    try {
      // each abusive socket fires its bad frames at once: unknown types and broken messages
      for (const s of bad) {
        for (let i = 0; i < n; i++) {
          s.send(
            i % 2 === 0
              ? { type: "teleport", id: `b${i}` }
              : { type: "message", id: `b${i}`, room_id: chat.roomId },
          );
        }
      }
      const health = fetch(`${base}/healthz`, { signal: AbortSignal.timeout(15_000) });
      const count = 40;
      await sender.sendMessages(chat.roomId, count, { prefix: "calm-" });
      assert.equal((await health).status, 200, "the process answered /healthz during the abuse");

      for (const s of bad) {
        const code = await waitFor("the abusive socket to be closed", () => s.closeCode);
        assert.equal(code, CloseCodes.INVALID_FRAMES.code);
        const answers = s.frames.filter((f) => f.type === "error");
        // every bad frame up to the close was answered once, in order, with a documented error
        assert.ok(answers.length > 0 && answers.length < n, `${answers.length} answers`);
        assert.deepEqual(
          answers.map((f) => f.id),
          answers.map((_, i) => `b${i}`),
        );
        for (const f of answers) {
          assert.match(f.code as string, /^(INVALID_FRAME|RATE_LIMITED)$/, JSON.stringify(f));
        }
        // invalid frames take tokens too: the user's bucket (burst 50) ran dry
        assert.ok(
          answers.some((f) => f.code === "RATE_LIMITED"),
          "no frame was rate-limited",
        );
      }
      assert.equal(await disconnects(chat.metrics, "INVALID_FRAMES"), bad.length);

      // the healthy pair got every ack and every message, in order
      const acks = await sender.waitForCount((f) => f.type === "ack", count, "acks");
      const got = await reader.waitForCount(
        (f) => f.type === "message" && f.room_id === chat.roomId,
        count,
        "messages at the healthy reader",
      );
      assert.deepEqual(
        got.map((f) => f.seq),
        acks.map((f) => f.seq),
      );
      assert.equal(sender.closeCode, undefined);
      assert.equal(reader.closeCode, undefined);
      assert.deepEqual(
        [...sender.frames, ...reader.frames].filter((f) => f.type === "error"),
        [],
      );
    } finally {
      for (const s of bad) s.ws.terminate();
      await Promise.all([sender.close(), reader.close()]);
    }
  });
});

/**
 * A WebSocket client that upgrades, says hello, and then never reads its socket again, like a
 * client whose process hangs: written by hand, because the ws client resumes a paused socket.
 */
async function stalledClient(base: string, token: string) {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, "connect");
  const hello = Buffer.from(JSON.stringify({ type: "hello" }));
  // a masked text frame; a zero masking key leaves the payload as it is
  const frame = Buffer.concat([Buffer.from([0x81, 0x80 | hello.length, 0, 0, 0, 0]), hello]);
  socket.write(
    `GET /v1/ws?access_token=${encodeURIComponent(token)} HTTP/1.1\r\n` +
      `Host: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  socket.write(frame);
  return {
    /** reads on until the server ends the connection; the close frame's code, if one came */
    async resumeUntilClosed(): Promise<number | undefined> {
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      const closed = once(socket, "close");
      socket.on("error", () => {});
      socket.resume();
      await closed;
      return closeCodeIn(Buffer.concat(chunks));
    },
    destroy: () => socket.destroy(),
  };
}

/** The status code of the close frame in a server's byte stream (HTTP response, then frames). */
function closeCodeIn(stream: Buffer): number | undefined {
  let i = stream.indexOf("\r\n\r\n") + 4;
  while (i > 3 && i + 2 <= stream.length) {
    const opcode = (stream[i] as number) & 0x0f;
    let length = (stream[i + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = stream.readUInt16BE(i + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(i + 2));
      header = 10;
    }
    // server frames are not masked
    if (opcode === 0x8) return length >= 2 ? stream.readUInt16BE(i + header) : undefined;
    i += header + length;
  }
  return undefined;
}
