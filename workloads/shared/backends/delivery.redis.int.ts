// RedisDelivery on the real Redis: the contract, plus what only Redis can show (a forwarder pod
// and a gateway pod on separate connections, re-subscription after the subscriber connection
// drops, both connections closed).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { redisUrl, uniqueName, waitFor } from "../../../e2e/testkit/index.ts";
import { deliveryContract } from "./delivery.contract.ts";
import { RedisDelivery } from "./delivery.redis.ts";
import { boundedRedisOptions, closeClient } from "./redis-keys.ts";

const freshNamespace = (): string => `sb:${uniqueName("delivery")}:`;

deliveryContract("redis", async (hooks) => {
  const subject = RedisDelivery.connect(redisUrl(), { namespace: freshNamespace(), ...hooks });
  return { subject, cleanup: () => subject.close() };
});

describe("RedisDelivery on Redis", () => {
  let admin: Redis;
  before(() => {
    admin = new Redis(redisUrl(), boundedRedisOptions());
  });
  after(async () => {
    await closeClient(admin);
  });

  /** ids of the server's connections with this name */
  const connectionsNamed = async (name: string): Promise<string[]> => {
    const list = (await admin.client("LIST")) as string;
    return list
      .split("\n")
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1] ?? "");
  };

  it("a forwarder pod's send reaches the listener of a gateway pod on another connection", async () => {
    const namespace = freshNamespace();
    const forwarder = RedisDelivery.connect(redisUrl(), { namespace });
    const gateway = RedisDelivery.connect(redisUrl(), { namespace });
    const other = RedisDelivery.connect(redisUrl(), { namespace: freshNamespace() });
    try {
      const got: string[] = [];
      const elsewhere: string[] = [];
      await gateway.listen("gw-1", (p) => got.push(p));
      await other.listen("gw-1", (p) => elsewhere.push(p));
      assert.equal(await forwarder.send("gw-1", "hello"), 1);
      await waitFor("the payload on the gateway pod", () => (got.length > 0 ? true : undefined));
      assert.deepEqual(got, ["hello"]);
      // the same gateway id in another ChatCluster's namespace is another address
      assert.equal(await other.send("gw-1", "marker"), 1);
      await waitFor("the marker", () => (elsewhere.length > 0 ? true : undefined));
      assert.deepEqual(elsewhere, ["marker"]);
    } finally {
      await Promise.all([forwarder.close(), gateway.close(), other.close()]);
    }
  });

  it("listens again by itself after its subscriber connection was killed", async () => {
    const namespace = freshNamespace();
    const subject = RedisDelivery.connect(redisUrl(), { namespace });
    try {
      const got: string[] = [];
      await subject.listen("gw-1", (p) => got.push(p));
      const [id, ...others] = await connectionsNamed(`${namespace}delivery-sub`);
      assert.ok(id !== undefined && others.length === 0);

      await admin.client("KILL", "ID", id);

      // probes published while the subscriber is away are lost (at-most-once); keep sending
      let n = 0;
      await waitFor("a payload after the reconnect", async () => {
        await subject.send("gw-1", `probe-${n++}`);
        return got.length > 0 ? true : undefined;
      });
      assert.ok(got.every((p) => p.startsWith("probe-")));
      assert.notDeepEqual(await connectionsNamed(`${namespace}delivery-sub`), [id]);
    } finally {
      await subject.close();
    }
  });

  it("close() closes the publishing and the subscriber connection", async () => {
    const namespace = freshNamespace();
    const client = new Redis(
      redisUrl(),
      boundedRedisOptions({ connectionName: `${namespace}delivery-pub` }),
    );
    const subject = new RedisDelivery(client, { namespace });
    await subject.listen("gw-1", () => undefined);
    assert.equal((await connectionsNamed(`${namespace}delivery-sub`)).length, 1);
    assert.equal((await connectionsNamed(`${namespace}delivery-pub`)).length, 1);

    await subject.close();

    await waitFor("both connections gone", async () => {
      const left = [
        ...(await connectionsNamed(`${namespace}delivery-sub`)),
        ...(await connectionsNamed(`${namespace}delivery-pub`)),
      ];
      return left.length === 0 ? true : undefined;
    });
  });
});
