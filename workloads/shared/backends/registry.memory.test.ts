import assert from "node:assert/strict";
import { it } from "node:test";
import { registryContract } from "./registry.contract.ts";
import { MemoryRegistry } from "./registry.memory.ts";
import { ROUTED_SEQ_TTL_MS } from "./registry.ts";

registryContract("memory", async () => {
  let now = 1_700_000_000_000;
  const subject = new MemoryRegistry({ now: () => now });
  return {
    subject,
    clock: {
      advance: (ms) => {
        now += ms;
      },
    },
    loseData: async () => subject.forget(),
    cleanup: () => subject.close(),
  };
});

it("a room's routed seq is forgotten ROUTED_SEQ_TTL_MS after its last routing lookup", async () => {
  let now = 0;
  const subject = new MemoryRegistry({ now: () => now });
  await subject.gatewaysForRooms(new Map([["room-a", 4]]));
  now += ROUTED_SEQ_TTL_MS - 1;
  await subject.gatewaysForRooms(new Map([["room-a", 2]])); // an older seq renews the record, keeps the seq
  now += ROUTED_SEQ_TTL_MS - 1;
  assert.deepEqual(await subject.subscribeRooms("gw", ["room-a"], 1_000), new Map([["room-a", 4]]));
  now += 1;
  assert.deepEqual(await subject.subscribeRooms("gw", ["room-a"], 1_000), new Map([["room-a", 0]]));
});
