// FailoverDelivery on the memory adapters: the Delivery contract while the primary is up, and
// the failover itself with a primary that can be made to fail or to hang.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../../../e2e/testkit/wait.ts";
import { MemoryBus } from "./bus.memory.ts";
import { BusDelivery } from "./delivery.bus.ts";
import { deliveryContract } from "./delivery.contract.ts";
import { FailoverDelivery, type FailoverEvents } from "./delivery.failover.ts";
import { MemoryDelivery } from "./delivery.memory.ts";
import { type Delivery, EVERY_GATEWAY } from "./delivery.ts";

deliveryContract("failover (memory primary, memory bus fallback)", async (hooks) => {
  const bus = new MemoryBus();
  const subject = new FailoverDelivery(
    new MemoryDelivery(hooks),
    new BusDelivery(bus, { topic: "t.deliveries", ...hooks }),
  );
  return {
    subject,
    cleanup: async () => {
      await subject.close();
      await bus.close();
    },
  };
});

/** A primary whose sends and pings fail (or never answer) while told to. */
class Breakable {
  readonly inner = new MemoryDelivery();
  mode: "up" | "failing" | "hanging" = "up";
  sends = 0;

  readonly delivery: Delivery = {
    send: (gatewayId, payload) => this.#gate(() => this.inner.send(gatewayId, payload)),
    sendMany: (items) => this.#gate(() => this.inner.sendMany(items)),
    listen: (gatewayId, onPayload) => this.inner.listen(gatewayId, onPayload),
    ping: () =>
      this.mode === "up" ? Promise.resolve() : Promise.reject(new Error("primary down")),
    close: () => this.inner.close(),
  };

  #gate<T>(op: () => Promise<T>): Promise<T> {
    this.sends++;
    if (this.mode === "failing") return Promise.reject(new Error("primary down"));
    if (this.mode === "hanging") return new Promise<T>(() => undefined);
    return op();
  }
}

function setup() {
  const primary = new Breakable();
  const bus = new MemoryBus();
  let t = 1_000_000;
  const events: string[] = [];
  let fellBack = 0;
  const record: FailoverEvents = {
    down: (err) => events.push(`down: ${(err as Error).message}`),
    up: () => events.push("up"),
    fellBack: (n) => {
      fellBack += n;
    },
  };
  const subject = new FailoverDelivery(
    primary.delivery,
    new BusDelivery(bus, { topic: "t.deliveries" }),
    { primaryTimeoutMs: 50, probeEveryMs: 1_000, overlapMs: 5_000, events: record, now: () => t },
  );
  return {
    primary,
    subject,
    events,
    fellBack: () => fellBack,
    advance: (ms: number) => {
      t += ms;
    },
    close: async () => {
      await subject.close();
      await bus.close();
    },
  };
}

const WAIT = { timeoutMs: 10_000, intervalMs: 5 };

describe("FailoverDelivery", () => {
  it("delivers through the fallback while the primary fails, reporting the outage once and counting every payload", async () => {
    const s = setup();
    try {
      const got: string[] = [];
      await s.subject.listen("gw-a", (p) => got.push(p));
      await s.subject.send("gw-a", "p1");
      await waitFor("p1 through the primary", () => (got.length === 1 ? true : undefined), WAIT);
      assert.equal(s.fellBack(), 0);

      s.primary.mode = "failing";
      await s.subject.sendMany([
        { gatewayId: "gw-a", payload: "p2" },
        { gatewayId: EVERY_GATEWAY, payload: "p3" },
      ]);
      await s.subject.send("gw-a", "p4");
      await waitFor(
        "p2-p4 through the fallback",
        () => (got.length === 4 ? true : undefined),
        WAIT,
      );

      assert.deepEqual([...got].sort(), ["p1", "p2", "p3", "p4"]);
      assert.equal(s.fellBack(), 3);
      assert.deepEqual(s.events, ["down: primary down"]);
      assert.equal(s.primary.sends, 2, "once down, sends go straight to the fallback");
    } finally {
      await s.close();
    }
  });

  it("gives a primary that does not answer in time up and sends through the fallback", async () => {
    const s = setup();
    try {
      const got: string[] = [];
      await s.subject.listen("gw-a", (p) => got.push(p));
      s.primary.mode = "hanging";
      await s.subject.sendMany([{ gatewayId: "gw-a", payload: "late" }]);
      await waitFor("the payload through the fallback", () => got[0], WAIT);
      assert.deepEqual(s.events, ["down: no answer within 50 ms"]);
    } finally {
      await s.close();
    }
  });

  it("asks whether the primary is back at most once per interval, then sends through both for the overlap, then through the primary only", async () => {
    const s = setup();
    try {
      const got: string[] = [];
      await s.subject.listen("gw-a", (p) => got.push(p));
      assert.equal(s.subject.primaryClear, true, "the primary alone before any failure");
      s.primary.mode = "failing";
      await s.subject.send("gw-a", "during");
      assert.equal(s.subject.primaryClear, false, "not while the primary is down");
      s.primary.mode = "up";
      await s.subject.send("gw-a", "before-probe"); // within the interval: no probe yet
      assert.deepEqual(s.events, ["down: primary down"]);

      s.advance(1_000);
      await s.subject.send("gw-a", "probing"); // still through the fallback; the probe starts
      await waitFor("the primary back", () => (s.events.includes("up") ? true : undefined), WAIT);
      const fellBack = s.fellBack();

      await s.subject.send("gw-a", "overlap"); // both ways: it arrives twice
      await waitFor(
        "the overlap payload twice",
        () => (got.filter((p) => p === "overlap").length === 2 ? true : undefined),
        WAIT,
      );
      assert.equal(s.fellBack(), fellBack + 1);
      assert.equal(s.subject.primaryClear, false, "not during the overlap");

      s.advance(5_000);
      await s.subject.send("gw-a", "after");
      await waitFor("the last payload", () => (got.includes("after") ? true : undefined), WAIT);
      assert.equal(s.fellBack(), fellBack + 1, "after the overlap, the primary only");
      assert.equal(s.subject.primaryClear, true, "the primary alone again after the overlap");
      assert.deepEqual(s.events, ["down: primary down", "up"]);
    } finally {
      await s.close();
    }
  });

  it("says in its check which path delivers, and fails it only when neither can", async () => {
    const s = setup();
    try {
      await s.subject.listen("gw-a", () => undefined);
      assert.equal(await s.subject.check(), "primary and fallback up");
      s.primary.mode = "failing";
      assert.match(await s.subject.check(), /^degraded: primary down \(primary down\)/);
      await s.subject.ping();
      await s.close();
      await assert.rejects(s.subject.check(), /primary down.*fallback down/);
    } finally {
      await s.close();
    }
  });
});
