import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { waitFor } from "../../e2e/testkit/wait.ts";
import { MemoryBus } from "../shared/backends/bus.memory.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { Forwarder } from "./forwarder.ts";

describe("the forwarder's consumer group check", () => {
  it("passes with partitions, passes as a standby without any, and fails once stopped", async () => {
    const backends = memoryBackends();
    const bus = new MemoryBus({ partitions: 1 });
    const make = () =>
      new Forwarder({
        ...backends,
        bus,
        topic: "t.messages",
        groupId: "t.forwarder",
        log: createLogger("forwarder", "silent"),
        metrics: createMetrics({ defaultMetrics: false }),
      });
    const a = make();
    const b = make();
    await assert.rejects(a.groupCheck(), /not consuming/);
    await a.start();
    await b.start();
    const details = await waitFor("both members to answer", async () => {
      const d = await Promise.all([a.groupCheck(), b.groupCheck()]).catch(() => undefined);
      return d?.some((x) => x.includes("partitions 0")) ? d : undefined;
    });
    assert.deepEqual(details.map((d) => (d.startsWith("standby") ? "standby" : d)).sort(), [
      "in t.forwarder with partitions 0",
      "standby",
    ]);
    await a.stop();
    await b.stop();
    await assert.rejects(a.groupCheck(), /not consuming/);
    await bus.close();
    await backends.close();
  });
});
