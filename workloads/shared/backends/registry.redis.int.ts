// RedisRegistry on the real Redis: the contract, plus what only Redis can show (two pods on two
// connections, key names, key expiry, purging).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { redisUrl, uniqueName, waitFor } from "../../../e2e/testkit/index.ts";
import { RedisDelivery } from "./delivery.redis.ts";
import {
  boundedRedisOptions,
  closeClient,
  dropNamespace,
  type RedisKeys,
  redisKeys,
} from "./redis-keys.ts";
import { registryContract } from "./registry.contract.ts";
import { RedisRegistry } from "./registry.redis.ts";
import { ROUTED_SEQ_TTL_MS } from "./registry.ts";

const freshKeys = (): RedisKeys => redisKeys(`sb:${uniqueName("registry")}:`);

registryContract("redis", async () => {
  let now = Date.now();
  const keys = freshKeys();
  const client = new Redis(redisUrl(), boundedRedisOptions());
  const subject = new RedisRegistry(client, { namespace: keys.namespace, now: () => now });
  return {
    subject,
    clock: {
      advance: (ms) => {
        now += ms;
      },
    },
    loseData: () => dropNamespace(client, keys),
    cleanup: async () => {
      await dropNamespace(client, keys);
      await subject.close();
    },
  };
});

describe("RedisRegistry on Redis", () => {
  let admin: Redis;
  let keys: RedisKeys;
  before(() => {
    admin = new Redis(redisUrl(), boundedRedisOptions());
  });
  after(async () => {
    await closeClient(admin);
  });

  const registry = (now?: () => number) =>
    RedisRegistry.connect(redisUrl(), {
      namespace: keys.namespace,
      ...(now === undefined ? {} : { now }),
    });

  it("two gateway pods on two connections see each other's entries", async () => {
    keys = freshKeys();
    const podA = registry();
    const podB = registry();
    try {
      await podA.subscribeRooms("gw-a", ["room-1"], 60_000);
      await podB.subscribeRooms("gw-b", ["room-1"], 60_000);
      await podB.markOnline("gw-b", ["user-1"], 60_000);
      assert.deepEqual((await podB.gatewaysForRoom("room-1")).sort(), ["gw-a", "gw-b"]);
      assert.deepEqual([...(await podA.onlineUsers(["user-1", "user-2"]))], ["user-1"]);
    } finally {
      await dropNamespace(admin, keys);
      await Promise.all([podA.close(), podB.close()]);
    }
  });

  it("keeps every key under its namespace, with an expiry that only grows past the latest entry", async () => {
    keys = freshKeys();
    const subject = registry();
    try {
      await subject.subscribeRooms("gw-long", ["room-1"], 60_000);
      await subject.subscribeRooms("gw-short", ["room-1"], 1_000);
      await subject.markOnline("gw-short", ["user-1"], 1_000);
      await subject.gatewaysForRooms(new Map([["room-1", 9]]));

      const found = await admin.keys(keys.all);
      assert.deepEqual(found.sort(), [
        keys.roomGateways("room-1"),
        keys.roomRouted("room-1"),
        keys.userGateways("user-1"),
      ]);
      assert.equal(keys.roomGateways("room-1"), `${keys.namespace}room:room-1:gw`);
      const routedTtl = await admin.pttl(keys.roomRouted("room-1"));
      assert.ok(routedTtl > 0 && routedTtl <= ROUTED_SEQ_TTL_MS, `routed key PTTL ${routedTtl}`);
      // the shorter heartbeat of gw-short did not cut the key's life below gw-long's entry
      assert.ok((await admin.pttl(keys.roomGateways("room-1"))) > 60_000);
      const userTtl = await admin.pttl(keys.userGateways("user-1"));
      assert.ok(userTtl > 1_000 && userTtl <= 31_000, `user key PTTL ${userTtl}`);
    } finally {
      await dropNamespace(admin, keys);
      await subject.close();
    }
  });

  it("purges expired entries from Redis when a reader meets them", async () => {
    keys = freshKeys();
    let now = Date.now();
    const subject = registry(() => now);
    try {
      await subject.subscribeRooms("gw-dead", ["room-1"], 1_000);
      await subject.subscribeRooms("gw-alive", ["room-1"], 5_000);
      now += 1_000;
      assert.deepEqual(await subject.gatewaysForRoom("room-1"), ["gw-alive"]);
      assert.deepEqual(await admin.zrange(keys.roomGateways("room-1"), 0, "-1"), ["gw-alive"]);
      now += 4_000;
      assert.deepEqual(await subject.gatewaysForRoom("room-1"), []);
      assert.equal(await admin.exists(keys.roomGateways("room-1")), 0);
    } finally {
      await dropNamespace(admin, keys);
      await subject.close();
    }
  });

  it("routeRooms records each room's seq and publishes each payload to its room's live gateways, in order", async () => {
    keys = freshKeys();
    let now = Date.now();
    const subject = registry(() => now);
    const gateways = RedisDelivery.connect(redisUrl(), { namespace: keys.namespace });
    try {
      const got = new Map<string, string[]>([
        ["gw-a", []],
        ["gw-b", []],
        ["gw-dead", []],
      ]);
      for (const [g, list] of got) await gateways.listen(g, (p) => list.push(p));
      await subject.subscribeRooms("gw-a", ["room-1"], 5_000);
      await subject.subscribeRooms("gw-b", ["room-1", "room-2"], 5_000);
      await subject.subscribeRooms("gw-dead", ["room-2"], 1_000);
      now += 1_000; // gw-dead's entry has expired
      const sent = await subject.routeRooms([
        { roomId: "room-1", seq: 7, payload: "1#7" },
        { roomId: "room-2", seq: 3, payload: "2#3" },
        { roomId: "room-1", seq: 8, payload: "1#8" },
        { roomId: "room-3", seq: 1, payload: "nobody" },
        { roomId: "room-2", seq: 0, payload: "2-seen" },
      ]);
      assert.equal(sent, 6);
      await waitFor("every payload", () =>
        (got.get("gw-b")?.length ?? 0) === 4 ? true : undefined,
      );
      assert.deepEqual(got.get("gw-a"), ["1#7", "1#8"]);
      assert.deepEqual(got.get("gw-b"), ["1#7", "2#3", "1#8", "2-seen"]);
      assert.deepEqual(got.get("gw-dead"), []);
      assert.deepEqual(await admin.zrange(keys.roomGateways("room-2"), 0, "-1"), ["gw-b"]);
      // a gateway subscribing now learns the highest seq routed past it, as after gatewaysForRooms
      const routed = await subject.subscribeRooms("gw-late", ["room-1", "room-2", "room-3"], 5_000);
      assert.deepEqual(Object.fromEntries(routed), { "room-1": 8, "room-2": 3, "room-3": 1 });
      // after a SCRIPT FLUSH (a Redis restart) the script is loaded again
      await admin.script("FLUSH");
      assert.equal(await subject.routeRooms([{ roomId: "room-2", seq: 4, payload: "2#4" }]), 2);
      await assert.rejects(
        subject.routeRooms([{ roomId: "room-2", seq: -1, payload: "bad" }]),
        RangeError,
      );
    } finally {
      await dropNamespace(admin, keys);
      await Promise.all([subject.close(), gateways.close()]);
    }
  });

  it("refuses a client whose commands could wait forever", async () => {
    const unbounded = new Redis(redisUrl(), { lazyConnect: true });
    try {
      assert.throws(() => new RedisRegistry(unbounded, { namespace: "sb:x:" }), TypeError);
    } finally {
      unbounded.disconnect();
    }
  });
});
