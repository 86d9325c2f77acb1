import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DeliveredMessage } from "../../shared/events.ts";
import { RoomCursor } from "./cursor.ts";

const msg = (seq: number): DeliveredMessage => ({
  roomId: "r",
  seq,
  id: `m${seq}`,
  senderId: "u",
  clientMsgId: `c${seq}`,
  msgType: "text",
  content: { text: String(seq) },
  createdAt: new Date(0).toISOString(),
});

describe("room cursor", () => {
  it("sends the next seq and drops what the client already has", () => {
    const c = new RoomCursor(3);
    assert.equal(c.offer(msg(3)), "drop");
    assert.equal(c.offer(msg(4)), "send");
    assert.equal(c.offer(msg(4)), "drop");
    assert.equal(c.last, 4);
  });

  it("detects a gap, queues live messages during the catch-up and flushes them in order", () => {
    const c = new RoomCursor(1);
    assert.equal(c.offer(msg(4)), "gap");
    assert.equal(c.offer(msg(6)), "queued");
    assert.equal(c.offer(msg(5)), "queued");
    // the store returns 2..4 (4 is a duplicate of the queued one)
    assert.deepEqual(
      c.accept([msg(2), msg(3), msg(4)]).map((m) => m.seq),
      [2, 3, 4],
    );
    const { send, gap } = c.drain();
    assert.deepEqual(
      send.map((m) => m.seq),
      [5, 6],
    );
    assert.equal(gap, false);
    assert.equal(c.catchingUp, false);
  });

  it("keeps the rest queued when the store has not caught up with a live message", () => {
    const c = new RoomCursor(0);
    c.catchingUp = true;
    c.offer(msg(3));
    c.accept([msg(1)]);
    const { send, gap } = c.drain();
    assert.deepEqual(send, []);
    assert.equal(gap, true);
    assert.deepEqual(
      c.pending.map((m) => m.seq),
      [3],
    );
  });

  it("shows each message once when it arrives twice, by both delivery paths in any order (decision 0019)", () => {
    // Redis pub/sub and the Kafka deliveries topic both carry 2..4 (a send that timed out but
    // got through, then the fallback; or the overlap after Redis came back), interleaved
    const c = new RoomCursor(1);
    const shown: number[] = [];
    const offer = (m: DeliveredMessage) => {
      const verdict = c.offer(m);
      if (verdict === "send") shown.push(m.seq);
      return verdict;
    };
    assert.equal(offer(msg(2)), "send"); // redis
    assert.equal(offer(msg(2)), "drop"); // kafka
    assert.equal(offer(msg(4)), "gap"); // kafka is ahead: 3 missing
    assert.equal(offer(msg(3)), "queued"); // redis, during the catch-up
    assert.equal(offer(msg(4)), "queued"); // redis, the second copy of 4
    assert.equal(offer(msg(3)), "queued"); // kafka, the second copy of 3
    shown.push(...c.accept([msg(2), msg(3)]).map((m) => m.seq)); // the store has 3 now
    const { send, gap } = c.drain();
    shown.push(...send.map((m) => m.seq));
    assert.equal(gap, false);
    assert.equal(offer(msg(3)), "drop");
    assert.equal(offer(msg(4)), "drop");
    assert.deepEqual(shown, [2, 3, 4]);
  });
});
