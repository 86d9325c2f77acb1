// Every Redis key and channel name Switchboard uses, in one place, each under the ChatCluster's
// namespace (`sb:<cluster>:`), so clusters can share a Redis and a namespace can be listed or
// dropped with one SCAN pattern. Beside the names: the client settings every adapter holds to
// (each command bounded in time, each retry bounded in count) and the pipeline helper they share.
import type { ChainableCommander, Redis, RedisOptions } from "ioredis";

/** The namespace of one ChatCluster's keys. */
export function clusterNamespace(cluster: string): string {
  return checkNamespace(`sb:${cluster}:`);
}

/** A namespace ends with ":" and holds no whitespace or SCAN glob characters. */
export function checkNamespace(namespace: string): string {
  if (!/^[^\s*?[\]\\]+:$/.test(namespace)) {
    throw new RangeError(
      `Redis namespace ${JSON.stringify(namespace)} must end with ":" and hold no whitespace or glob characters`,
    );
  }
  return namespace;
}

export interface RedisKeys {
  readonly namespace: string;
  /** SCAN pattern matching every key of the namespace */
  readonly all: string;
  /** sorted set: gateway id → expiry (ms) of its subscription to the room */
  roomGateways(roomId: string): string;
  /** sorted set of one member: the highest seq of the room a routing lookup named */
  roomRouted(roomId: string): string;
  /** sorted set: gateway id → expiry (ms) of the user's presence on it */
  userGateways(userId: string): string;
  /** string "<id>:<since ms>": the registry's epoch, absent once its data was lost */
  registryEpoch: string;
  /** sorted set: gateway id → expiry (ms) of its liveness */
  liveGateways: string;
  /** pub/sub channel addressed to one gateway pod */
  gatewayChannel(gatewayId: string): string;
  /** hash {tokens, ts}: one token bucket */
  rateBucket(key: string): string;
}

export function redisKeys(namespace: string): RedisKeys {
  const ns = checkNamespace(namespace);
  return {
    namespace: ns,
    all: `${ns}*`,
    roomGateways: (roomId) => `${ns}room:${roomId}:gw`,
    roomRouted: (roomId) => `${ns}room:${roomId}:routed`,
    userGateways: (userId) => `${ns}user:${userId}:gw`,
    registryEpoch: `${ns}registry:epoch`,
    liveGateways: `${ns}gateways`,
    gatewayChannel: (gatewayId) => `${ns}gw:${gatewayId}`,
    rateBucket: (key) => `${ns}rl:${key}`,
  };
}

export interface RedisClientSettings {
  /** how long one command may wait for its reply, queued time included (default 2,000 ms) */
  readonly commandTimeoutMs?: number;
  /** shown by CLIENT LIST */
  readonly connectionName?: string;
}

/**
 * Client options that bound every command: a reply deadline, a cap on the reconnects a queued
 * command waits through, a connect deadline, and a capped reconnect backoff.
 */
export function boundedRedisOptions(
  settings: RedisClientSettings = {},
): Omit<RedisOptions, "replyMapping"> {
  return {
    commandTimeout: settings.commandTimeoutMs ?? 2_000,
    connectTimeout: 5_000,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    ...(settings.connectionName === undefined ? {} : { connectionName: settings.connectionName }),
  };
}

/**
 * Throws at once while the client's connection is lost (reconnecting, closed): a command would
 * wait in its offline queue for a reconnect, up to its timeout, and a caller with a fallback
 * (decision 0019) should take it now. A client still making its first connection passes (its
 * commands wait for it, bounded by the command timeout).
 */
export function assertConnected(client: Redis): void {
  if (["reconnecting", "close", "end"].includes(client.status)) {
    throw new Error(`Redis connection is ${client.status}`);
  }
}

/**
 * Resolves while Redis answers PING. A client that lost its connection fails at once
 * (assertConnected) instead of queueing the PING until its command timeout.
 */
export async function pingRedis(client: Redis): Promise<void> {
  assertConnected(client);
  const reply = await client.ping();
  if (reply !== "PONG") throw new Error(`Redis answered PING with ${String(reply).slice(0, 40)}`);
}

/** Rejects a client whose commands could wait forever. */
export function assertBounded(client: Redis): void {
  const { commandTimeout, maxRetriesPerRequest } = client.options;
  if (typeof commandTimeout !== "number" || commandTimeout <= 0 || maxRetriesPerRequest == null) {
    throw new TypeError(
      "the Redis client needs commandTimeout and maxRetriesPerRequest (see boundedRedisOptions)",
    );
  }
}

/** Runs a pipeline and returns its replies in order, or throws the first command's error. */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, reply]) => {
    if (err !== null) throw err;
    return reply;
  });
}

/** Deletes every key of the namespace (tests and `deletionPolicy: Delete`). */
export async function dropNamespace(client: Redis, keys: RedisKeys): Promise<void> {
  let cursor = "0";
  do {
    const [next, found] = await client.scan(cursor, "MATCH", keys.all, "COUNT", 500);
    if (found.length > 0) await client.unlink(...found);
    cursor = next;
  } while (cursor !== "0");
}

/** Quits the client (waiting for pending replies, within the command timeout), or drops it. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === "end") return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
