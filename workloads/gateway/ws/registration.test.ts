// The gateway's registration on the memory registry, made to fail: a registry write that failed
// (Redis down while sockets still open, decision 0019) is made good once the registry answers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { waitFor } from "../../../e2e/testkit/wait.ts";
import { MemoryRegistry } from "../../shared/backends/registry.memory.ts";
import type { Registry } from "../../shared/backends/registry.ts";
import { createMetrics } from "../../shared/telemetry/metrics.ts";
import { DEFAULT_LIMITS } from "../config.ts";
import type { GatewayContext } from "../core/context.ts";
import { Registration } from "./registration.ts";

describe("gateway registration", () => {
  it("re-records its rooms and users and catches its sockets up once the registry answers again after a failed write", async () => {
    const inner = new MemoryRegistry();
    let down = false;
    let epochReads = 0;
    const registry = new Proxy(inner, {
      get: (target, name: keyof Registry) => {
        const member = target[name];
        if (typeof member !== "function") return member;
        return (...args: unknown[]) => {
          if (name === "epoch") epochReads++;
          return down
            ? Promise.reject(new Error("registry unavailable"))
            : (member as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const ctx = {
      registry,
      gatewayId: "gw-1",
      limits: { ...DEFAULT_LIMITS, registryTtlMs: 600_000 },
      log: createLogger("registration-test", "silent"),
      metrics: createMetrics({ defaultMetrics: false }),
    } as unknown as GatewayContext;
    let caughtUp = 0;
    const routed: Map<string, number>[] = [];
    const registration = new Registration(ctx, {
      rooms: () => ["room-1"],
      users: () => ["user-1"],
      onRegistryLost: () => {
        caughtUp++;
      },
      routed: (seqs) => routed.push(new Map(seqs)),
    });
    await inner.gatewaysForRooms(new Map([["room-1", 12]])); // routed before this gateway recorded the room
    await registration.start();
    assert.deepEqual(routed, [new Map([["room-1", 12]])], "the seq routed past it is passed on");
    try {
      down = true;
      await inner.unsubscribeRooms("gw-1", ["room-1"]); // what the failed write would have made
      registration.markStale(new Error("registry unavailable"));
      const reads = epochReads;
      await waitFor("an epoch check while the registry is down", () =>
        epochReads > reads ? true : undefined,
      );
      assert.equal(caughtUp, 0, "nothing to do while the registry does not answer");

      down = false;
      await waitFor("the sockets caught up", () => (caughtUp > 0 ? true : undefined));
      assert.deepEqual(await inner.gatewaysForRoom("room-1"), ["gw-1"]);
      assert.deepEqual(await inner.gatewaysForUser("user-1"), ["gw-1"]);
      assert.equal(caughtUp, 1);
      assert.equal((await ctx.metrics.registryLosses.get()).values[0]?.value ?? 0, 0);
    } finally {
      registration.stop();
    }
  });
});
