// Every request gets its answer, and every answer names its request: an error frame carries the
// id of the frame it refuses on every path, the frames refused for being too many in flight
// included, and every client frame (typing too) may carry an id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, type Frame, Rest, type Session } from "../../e2e/testkit/index.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import type { BucketSpec, RateDecision, RateLimiter } from "../shared/backends/rate-limiter.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

/** The memory limiter, except that while `held` every take waits until release(). */
class HeldLimiter implements RateLimiter {
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  readonly #inner: RateLimiter;

  constructor(inner: RateLimiter) {
    this.#inner = inner;
  }

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async take(key: string, spec: BucketSpec, cost?: number): Promise<RateDecision> {
    await this.#gate;
    return this.#inner.take(key, spec, cost);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

describe("every request is answered, and every answer names its request", () => {
  let cluster: InProcessCluster;
  let limiter: HeldLimiter;
  let rest: Rest;
  let alice: Session;
  let bob: Session;
  let roomId: string;

  before(async () => {
    const base = memoryBackends();
    limiter = new HeldLimiter(base.limiter);
    cluster = await startCluster({
      backends: { ...base, limiter },
      limits: { userRate: { capacity: 10_000, refillPerSecond: 10_000 } },
    });
    rest = new Rest(cluster.urls[0] as string);
    [alice, bob] = await Promise.all([rest.register("alice"), rest.register("bob")]);
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "answers", members: [bob.userId] },
      alice.accessToken,
    );
    roomId = room.id;
  });
  after(async () => {
    limiter.release();
    await cluster.stop();
    await cluster.backends.close();
  });

  it("answers frames refused as too many in flight with RATE_LIMITED and their id, and the rest with acks", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      const n = 300;
      const ids = Array.from({ length: n }, (_, i) => `h${i}`);
      limiter.hold();
      for (const id of ids) {
        sa.send({
          type: "message",
          id,
          room_id: roomId,
          client_msg_id: `held-${id}`,
          msg_type: "text",
          content: { text: id },
        });
      }
      const refused = await sa.waitForCount(
        (f) => f.type === "error" && f.code === "RATE_LIMITED",
        1,
        "a refusal while the limiter is held",
      );
      assert.match(refused[0]?.message as string, /in flight/);
      limiter.release();
      const answers = await sa.waitForCount(
        (f) => f.type === "ack" || f.type === "error",
        n,
        "an answer to every frame",
      );
      const errors = sa.frames.filter((f) => f.type === "error");
      for (const e of errors) {
        assert.equal(e.code, "RATE_LIMITED", JSON.stringify(e));
        assert.ok(typeof e.retry_after_ms === "number" && e.retry_after_ms > 0);
      }
      assert.deepEqual(
        answers.map((f: Frame) => f.id).sort(),
        [...ids].sort(),
        "one answer per request, each with the request's id",
      );
      assert.ok(answers.some((f) => f.type === "ack"));
    } finally {
      limiter.release();
      await sa.close();
    }
  });

  it("accepts an id on typing, and echoes it on the error that refuses one", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    const sb = await ChatSocket.open(cluster.urls[0] as string, bob.accessToken);
    try {
      sa.send({ type: "typing", id: "t-1", room_id: roomId, state: "start" });
      const typing = await sb.waitFor((f) => f.type === "typing", "bob sees alice typing");
      assert.equal(typing.user_id, alice.userId);
      const elsewhere = await sa.request({
        type: "typing",
        room_id: "00000000-0000-4000-8000-000000000000",
        state: "start",
      });
      assert.equal(elsewhere.type, "error");
      assert.match(elsewhere.code as string, /^(ROOM_NOT_FOUND|NOT_A_MEMBER)$/);
      assert.deepEqual(
        sa.frames.filter((f) => f.type === "error" && f.id === "t-1"),
        [],
        "the typing frame with an id was accepted",
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });
});

describe("a message that is never acknowledged", () => {
  let cluster: InProcessCluster;
  let alice: Session;
  let roomId: string;

  before(async () => {
    // no forwarder: messages reach the bus and are never sequenced
    cluster = await startCluster({ forwarders: 0, limits: { ackTimeoutMs: 300 } });
    const rest = new Rest(cluster.urls[0] as string);
    alice = await rest.register("alice");
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "stalled" },
      alice.accessToken,
    );
    roomId = room.id;
  });
  after(async () => {
    await cluster.stop();
  });

  it("is answered UNAVAILABLE with its id once the ack timeout passes", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      const answer = await sa.request({
        type: "message",
        room_id: roomId,
        client_msg_id: "never-acked",
        msg_type: "text",
        content: { text: "anyone?" },
      });
      assert.equal(answer.type, "error");
      assert.equal(answer.code, "UNAVAILABLE");
      assert.ok(typeof answer.retry_after_ms === "number" && answer.retry_after_ms > 0);
    } finally {
      await sa.close();
    }
  });
});
