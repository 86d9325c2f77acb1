// The in-memory Bus against the Bus contract, plus what only the memory adapter promises.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uniqueName } from "../../../e2e/testkit/index.ts";
import { busContract } from "./bus.contract.ts";
import { BusClosedError, MemoryBus, partitionForKey } from "./bus.memory.ts";

busContract("memory", async () => {
  const bus = new MemoryBus({ partitions: 4, retryBackoffMs: { min: 10, max: 100 } });
  return { bus, topic: uniqueName("bus"), cleanup: () => bus.close() };
});

describe("MemoryBus", () => {
  it("maps a key to the same partition every time, and spreads keys over all partitions", () => {
    const partitions = Array.from({ length: 64 }, (_, i) => partitionForKey(`room-${i}`, 4));
    assert.deepEqual(
      partitions,
      Array.from({ length: 64 }, (_, i) => partitionForKey(`room-${i}`, 4)),
    );
    assert.deepEqual([...new Set(partitions)].sort(), [0, 1, 2, 3]);
  });

  it("refuses to publish or consume once closed", async () => {
    const bus = new MemoryBus();
    await bus.close();
    await assert.rejects(bus.publish("t", []), BusClosedError);
    await assert.rejects(
      bus.consume({ groupId: "g", topic: "t", onBatch: async () => undefined }),
      (err: unknown) => err instanceof BusClosedError && err.code === "BUS_CLOSED",
    );
  });
});
