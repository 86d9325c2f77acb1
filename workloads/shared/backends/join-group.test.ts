import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBus } from "./bus.memory.ts";
import type { Bus, BusConsumer, ConsumerOptions } from "./bus.ts";
import { joinGroup } from "./bus.ts";

const options: ConsumerOptions = { groupId: "g", topic: "t", onBatch: async () => {} };

/** The memory bus, except that its first `failures` consume() calls reject as Kafka's would. */
function failingFirst(failures: number): { bus: Bus; calls: () => number } {
  const inner = new MemoryBus();
  let calls = 0;
  const bus = new Proxy(inner, {
    get: (target, name: keyof Bus) => {
      if (name === "consume") {
        return async (o: ConsumerOptions): Promise<BusConsumer> => {
          calls++;
          if (calls <= failures) throw new Error("the topic does not exist yet");
          return target.consume(o);
        };
      }
      const member = target[name];
      return typeof member === "function" ? member.bind(target) : member;
    },
  });
  return { bus, calls: () => calls };
}

describe("joinGroup", () => {
  it("tries again after each failure, pausing 1 s doubling, logged, until it joins", async () => {
    const { bus, calls } = failingFirst(3);
    const pauses: number[] = [];
    const warned: unknown[] = [];
    const consumer = await joinGroup(bus, options, {
      log: { warn: (fields) => warned.push(fields) },
      stopping: () => false,
      pause: async (ms) => {
        pauses.push(ms);
      },
    });
    assert.ok(consumer !== undefined);
    assert.equal(calls(), 4);
    assert.deepEqual(pauses, [1_000, 2_000, 4_000]);
    assert.equal(warned.length, 3);
    await consumer.stop();
    await bus.close();
  });

  it("gives up, resolving undefined, once the member stops", async () => {
    const { bus, calls } = failingFirst(Number.POSITIVE_INFINITY);
    let stopping = false;
    const consumer = await joinGroup(bus, options, {
      log: { warn: () => {} },
      stopping: () => stopping,
      pause: async () => {
        stopping = true; // stop() called during the pause
      },
    });
    assert.equal(consumer, undefined);
    assert.equal(calls(), 1);
    await bus.close();
  });
});
