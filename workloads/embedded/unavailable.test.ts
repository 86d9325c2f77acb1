// A backend that does not answer in time (under load the gateway's Redis commands time out
// behind its own backlog: bench/e2e at 5,000 msg/s) is a retriable UNAVAILABLE with
// retry_after_ms, never INTERNAL; the request is not carried out, and a retry once the backend
// answers again succeeds with the same client_msg_id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session } from "../../e2e/testkit/index.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import type { BucketSpec, RateDecision, RateLimiter } from "../shared/backends/rate-limiter.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

/** The memory limiter, except that while `failing` every take rejects as ioredis does. */
class TimingOutLimiter implements RateLimiter {
  failing = false;
  readonly #inner: RateLimiter;

  constructor(inner: RateLimiter) {
    this.#inner = inner;
  }

  take(key: string, spec: BucketSpec, cost?: number): Promise<RateDecision> {
    if (this.failing) return Promise.reject(new Error("Command timed out"));
    return this.#inner.take(key, spec, cost);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

describe("a rate limiter that times out", () => {
  let cluster: InProcessCluster;
  let limiter: TimingOutLimiter;
  let alice: Session;
  let roomId: string;
  let rest: Rest;

  before(async () => {
    const base = memoryBackends();
    limiter = new TimingOutLimiter(base.limiter);
    const backends = { ...base, limiter };
    cluster = await startCluster({ backends });
    rest = new Rest(cluster.urls[0] as string);
    alice = await rest.register("alice");
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "unavailable" },
      alice.accessToken,
    );
    roomId = room.id;
  });
  after(async () => {
    await cluster.stop();
    await cluster.backends.close();
  });

  it("answers a WebSocket send with UNAVAILABLE and retry_after_ms, and the retry is stored once", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      const send = {
        type: "message",
        room_id: roomId,
        client_msg_id: "c-1",
        msg_type: "text",
        content: { text: "hi" },
      };
      limiter.failing = true;
      const refused = await sa.request(send);
      assert.equal(refused.type, "error");
      assert.equal(refused.code, "UNAVAILABLE");
      assert.ok(typeof refused.retry_after_ms === "number" && refused.retry_after_ms > 0);
      limiter.failing = false;
      const ack = await sa.request(send);
      assert.equal(ack.type, "ack");
      const history = await rest.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?limit=100`,
        undefined,
        alice.accessToken,
      );
      assert.deepEqual(
        history.messages.map((m: { content: { text: string } }) => m.content.text),
        ["hi"],
      );
    } finally {
      limiter.failing = false;
      await sa.close();
    }
  });

  it("answers a REST request with 503 UNAVAILABLE and retry_after_ms", async () => {
    limiter.failing = true;
    try {
      const r = await rest.call("GET", "/v1/me", undefined, alice.accessToken);
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, "UNAVAILABLE");
      assert.ok(r.body.error.retry_after_ms > 0);
    } finally {
      limiter.failing = false;
    }
    const again = await rest.call("GET", "/v1/me", undefined, alice.accessToken);
    assert.equal(again.status, 200);
  });
});
