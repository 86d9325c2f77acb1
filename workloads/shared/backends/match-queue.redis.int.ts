import { Redis } from "ioredis";
import { redisUrl, uniqueName } from "../../../e2e/testkit/index.ts";
import { matchQueueContract } from "./match-queue.contract.ts";
import { RedisMatchQueue } from "./match-queue.redis.ts";
import { boundedRedisOptions, dropNamespace, redisKeys } from "./redis-keys.ts";

matchQueueContract("redis", async () => {
  const namespace = `${uniqueName("mq")}:`;
  const queue = new RedisMatchQueue(new Redis(redisUrl(), boundedRedisOptions()), { namespace });
  return {
    queue,
    async cleanup() {
      const admin = new Redis(redisUrl(), boundedRedisOptions());
      await dropNamespace(admin, redisKeys(namespace));
      await admin.quit();
      await queue.close();
    },
  };
});
