// The Registry contract: every adapter passes this suite, handed a factory. Expiry is driven by
// the clock the factory injects into the adapter, so it is proven without waiting.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Registry } from "./registry.ts";

export interface RegistryHarness {
  readonly subject: Registry;
  /** moves the clock the subject was built with */
  readonly clock: { advance(ms: number): void };
  /** loses everything the registry holds, as a Redis restarted without persistence does */
  loseData(): Promise<void>;
  /** closes the subject and removes what it stored */
  cleanup(): Promise<void>;
}

export type RegistryFactory = () => Promise<RegistryHarness>;

const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

export function registryContract(name: string, factory: RegistryFactory): void {
  const test = (title: string, body: (h: RegistryHarness) => Promise<void>) =>
    it(title, async () => {
      const harness = await factory();
      try {
        await body(harness);
      } finally {
        await harness.cleanup();
      }
    });

  describe(`Registry contract: ${name}`, () => {
    test("the epoch stays the same until the registry loses its data, then a new one begins", async ({
      subject,
      clock,
      loseData,
    }) => {
      const first = await subject.epoch();
      clock.advance(1_000);
      assert.deepEqual(await subject.epoch(), first, "reading the epoch does not renew it");
      await subject.subscribeRooms("gw-1", ["room-a"], 10_000);
      await loseData();
      clock.advance(1_000);
      const second = await subject.epoch();
      assert.notEqual(second.id, first.id);
      assert.equal(second.since, first.since + 2_000, "the new epoch begins when it is read");
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), [], "the entries went with it");
      assert.deepEqual(await subject.epoch(), second);
    });

    test("liveGateways lists each gateway until its liveness expires", async ({
      subject,
      clock,
    }) => {
      await subject.markGatewayAlive("gw-1", 1_000);
      await subject.markGatewayAlive("gw-2", 3_000);
      await subject.markGatewayAlive("gw-2", 3_000);
      assert.deepEqual(sorted(await subject.liveGateways()), ["gw-1", "gw-2"]);
      clock.advance(1_000);
      assert.deepEqual(await subject.liveGateways(), ["gw-2"]);
      await subject.markGatewayAlive("gw-1", 1_000);
      assert.deepEqual(sorted(await subject.liveGateways()), ["gw-1", "gw-2"]);
      await assert.rejects(subject.markGatewayAlive("gw-1", 0), RangeError);
    });

    test("gatewaysForRoom returns exactly the gateways subscribed to the room", async ({
      subject,
    }) => {
      await subject.subscribeRooms("gw-1", ["room-a", "room-b"], 10_000);
      await subject.subscribeRooms("gw-2", ["room-b"], 10_000);

      assert.deepEqual(sorted(await subject.gatewaysForRoom("room-a")), ["gw-1"]);
      assert.deepEqual(sorted(await subject.gatewaysForRoom("room-b")), ["gw-1", "gw-2"]);
      assert.deepEqual(await subject.gatewaysForRoom("room-c"), []);
    });

    test("a subscription learns the highest seq a routing lookup of the room named before it", async ({
      subject,
    }) => {
      const route = async (roomId: string, seq: number) =>
        (await subject.gatewaysForRooms(new Map([[roomId, seq]]))).get(roomId);
      assert.deepEqual(
        await subject.subscribeRooms("gw-1", ["room-a"], 10_000),
        new Map([["room-a", 0]]),
        "nothing routed yet",
      );
      assert.deepEqual(await route("room-a", 7), ["gw-1"]);
      assert.deepEqual(await route("room-b", 3), []);
      assert.deepEqual(await route("room-a", 5), ["gw-1"], "an older lookup");
      assert.deepEqual(await route("room-a", 0), ["gw-1"], "a lookup not routing");
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), ["gw-1"], "a plain lookup");
      assert.deepEqual(
        await subject.subscribeRooms("gw-2", ["room-a", "room-b", "room-c"], 10_000),
        new Map([
          ["room-a", 7],
          ["room-b", 3],
          ["room-c", 0],
        ]),
      );
      assert.deepEqual(sorted((await route("room-b", 4)) ?? []), ["gw-2"]);
      assert.deepEqual(
        await subject.subscribeRooms("gw-1", ["room-b"], 10_000),
        new Map([["room-b", 4]]),
      );
      for (const bad of [-1, 1.5, Number.NaN])
        await assert.rejects(route("room-a", bad), RangeError);
    });

    test("gatewaysForRooms answers every room at once and records the routing seqs above 0", async ({
      subject,
    }) => {
      await subject.subscribeRooms("gw-1", ["room-a", "room-b"], 10_000);
      await subject.subscribeRooms("gw-2", ["room-b"], 10_000);
      const found = await subject.gatewaysForRooms(
        new Map([
          ["room-a", 4],
          ["room-b", 0],
          ["room-c", 2],
        ]),
      );
      assert.deepEqual(
        [...found].map(([room, gateways]) => [room, sorted(gateways)]),
        [
          ["room-a", ["gw-1"]],
          ["room-b", ["gw-1", "gw-2"]],
          ["room-c", []],
        ],
      );
      assert.deepEqual(
        await subject.subscribeRooms("gw-3", ["room-a", "room-b", "room-c"], 10_000),
        new Map([
          ["room-a", 4],
          ["room-b", 0],
          ["room-c", 2],
        ]),
      );
      assert.deepEqual(await subject.gatewaysForRooms(new Map()), new Map());
    });

    test("unsubscribeRooms removes only that gateway from only those rooms", async ({
      subject,
    }) => {
      await subject.subscribeRooms("gw-1", ["room-a", "room-b"], 10_000);
      await subject.subscribeRooms("gw-2", ["room-b"], 10_000);

      await subject.unsubscribeRooms("gw-1", ["room-b", "room-never-joined"]);

      assert.deepEqual(sorted(await subject.gatewaysForRoom("room-a")), ["gw-1"]);
      assert.deepEqual(sorted(await subject.gatewaysForRoom("room-b")), ["gw-2"]);
      await subject.unsubscribeRooms("gw-2", ["room-b"]);
      assert.deepEqual(await subject.gatewaysForRoom("room-b"), []);
    });

    test("a room subscription expires exactly ttlMs after it was recorded", async ({
      subject,
      clock,
    }) => {
      await subject.subscribeRooms("gw-1", ["room-a"], 1_000);
      clock.advance(999);
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), ["gw-1"]);
      clock.advance(1);
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), []);
    });

    test("a gateway that stops heartbeating disappears while one that heartbeats stays", async ({
      subject,
      clock,
    }) => {
      const ttl = 3_000;
      await subject.subscribeRooms("gw-alive", ["room-a", "room-b"], ttl);
      await subject.subscribeRooms("gw-dead", ["room-a", "room-b"], ttl);
      await subject.markOnline("gw-alive", ["user-1"], ttl);
      await subject.markOnline("gw-dead", ["user-1", "user-2"], ttl);

      for (let beat = 0; beat < 4; beat++) {
        clock.advance(1_000);
        await subject.subscribeRooms("gw-alive", ["room-a", "room-b"], ttl);
        await subject.markOnline("gw-alive", ["user-1"], ttl);
      }

      assert.deepEqual(await subject.gatewaysForRoom("room-a"), ["gw-alive"]);
      assert.deepEqual(await subject.gatewaysForRoom("room-b"), ["gw-alive"]);
      assert.deepEqual(await subject.gatewaysForUser("user-1"), ["gw-alive"]);
      assert.deepEqual(await subject.gatewaysForUser("user-2"), []);
      assert.deepEqual(sorted(await subject.onlineUsers(["user-1", "user-2"])), ["user-1"]);
    });

    test("the latest heartbeat sets the expiry, shorter or longer", async ({ subject, clock }) => {
      await subject.subscribeRooms("gw-1", ["room-a"], 10_000);
      await subject.subscribeRooms("gw-1", ["room-a"], 1_000);
      clock.advance(1_000);
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), []);

      await subject.subscribeRooms("gw-1", ["room-a"], 1_000);
      await subject.subscribeRooms("gw-1", ["room-a"], 10_000);
      clock.advance(9_999);
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), ["gw-1"]);
    });

    test("a user is online on each gateway that marked them, until expiry or markOffline", async ({
      subject,
      clock,
    }) => {
      await subject.markOnline("gw-1", ["user-1", "user-2"], 5_000);
      await subject.markOnline("gw-2", ["user-1"], 1_000);
      assert.deepEqual(sorted(await subject.gatewaysForUser("user-1")), ["gw-1", "gw-2"]);
      assert.deepEqual(sorted(await subject.gatewaysForUser("user-2")), ["gw-1"]);

      await subject.markOffline("gw-1", "user-1");
      assert.deepEqual(await subject.gatewaysForUser("user-1"), ["gw-2"]);

      clock.advance(1_000);
      assert.deepEqual(await subject.gatewaysForUser("user-1"), []);
      assert.deepEqual(await subject.gatewaysForUser("user-2"), ["gw-1"]);
    });

    test("onlineUsers is the subset online on at least one gateway", async ({ subject, clock }) => {
      await subject.markOnline("gw-1", ["user-1", "user-expired"], 1_000);
      clock.advance(500);
      await subject.markOnline("gw-2", ["user-2"], 1_000);
      await subject.markOnline("gw-1", ["user-1", "user-offline"], 1_000);
      await subject.markOffline("gw-1", "user-offline");
      clock.advance(600);

      const online = await subject.onlineUsers([
        "user-1",
        "user-2",
        "user-expired",
        "user-offline",
        "user-never",
      ]);
      assert.deepEqual(sorted(online), ["user-1", "user-2"]);
      assert.deepEqual(sorted(await subject.onlineUsers([])), []);
    });

    test("rooms and users are separate namespaces", async ({ subject }) => {
      await subject.subscribeRooms("gw-1", ["same-id"], 10_000);
      assert.deepEqual(await subject.gatewaysForUser("same-id"), []);
      await subject.markOnline("gw-2", ["same-id"], 10_000);
      assert.deepEqual(await subject.gatewaysForRoom("same-id"), ["gw-1"]);
    });

    test("empty id lists are accepted and change nothing", async ({ subject }) => {
      await subject.subscribeRooms("gw-1", [], 1_000);
      await subject.unsubscribeRooms("gw-1", []);
      await subject.markOnline("gw-1", [], 1_000);
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), []);
    });

    test("a ttlMs that is not a positive number is rejected", async ({ subject }) => {
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(subject.subscribeRooms("gw-1", ["room-a"], ttl), RangeError);
        await assert.rejects(subject.markOnline("gw-1", ["user-1"], ttl), RangeError);
      }
      assert.deepEqual(await subject.gatewaysForRoom("room-a"), []);
      assert.deepEqual(await subject.gatewaysForUser("user-1"), []);
    });
  });
}
