// Registry in Redis. Per room (and per user) a sorted set whose members are gateway ids and
// whose scores are expiry times in ms: a gateway's heartbeat rewrites its score, readers keep
// scores after `now` and purge the rest. Each key also carries a PEXPIRE past its latest entry,
// so a key that nobody reads any more disappears by itself. docs/decisions/0005.
import { createHash, randomUUID } from "node:crypto";
import { type ChainableCommander, Redis } from "ioredis";
import {
  assertBounded,
  assertConnected,
  boundedRedisOptions,
  closeClient,
  execPipeline,
  pingRedis,
  type RedisClientSettings,
  type RedisKeys,
  redisKeys,
} from "./redis-keys.ts";
import {
  checkRouting,
  checkTtl,
  type Registry,
  type RegistryEpoch,
  ROUTED_SEQ_TTL_MS,
  type RoomRoute,
} from "./registry.ts";

export interface RedisRegistryOptions {
  /** key prefix of the ChatCluster, e.g. `sb:<cluster>:` */
  readonly namespace: string;
  /** the clock, in ms, that expiry times are written and read with; tests inject one */
  readonly now?: () => number;
}

/** the one member of a room's routed-seq key */
const ROUTED = "seq";

/** how long a key outlives its latest entry: covers clock skew between pods */
const keyGraceMs = 30_000;

/**
 * routeRooms in one script: KEYS = per room, its routed-seq key and its gateways key; ARGV =
 * now, the routed seq's TTL, the gateway channels' prefix, the member of a routed-seq key, then
 * per room its seq (0: none), then per payload its room's index (1-based) and the payload.
 * Per room as gatewaysForRooms (ZADD GT + PEXPIRE, purge, live members), then a PUBLISH of each
 * payload to each of its room's gateways, in order. Returns the PUBLISHes made.
 */
const routeScript = `
local now, ttl, prefix, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rooms = #KEYS / 2
local gateways = {}
for r = 1, rooms do
  local seq = ARGV[4 + r]
  if seq ~= "0" then
    redis.call("ZADD", KEYS[2 * r - 1], "GT", seq, member)
    redis.call("PEXPIRE", KEYS[2 * r - 1], ttl)
  end
  redis.call("ZREMRANGEBYSCORE", KEYS[2 * r], "-inf", now)
  gateways[r] = redis.call("ZRANGE", KEYS[2 * r], "(" .. now, "+inf", "BYSCORE")
end
local sent = 0
for i = 5 + rooms, #ARGV, 2 do
  local payload = ARGV[i + 1]
  for _, g in ipairs(gateways[tonumber(ARGV[i])]) do
    redis.call("PUBLISH", prefix .. g, payload)
    sent = sent + 1
  end
end
return sent
`;
const routeSha = createHash("sha1").update(routeScript).digest("hex");

export class RedisRegistry implements Registry {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #now: () => number;

  /** Connects a client of its own with bounded options; close() quits it. */
  static connect(url: string, options: RedisRegistryOptions & RedisClientSettings): RedisRegistry {
    return new RedisRegistry(new Redis(url, boundedRedisOptions(options)), options);
  }

  /** Takes ownership of `client` (close() quits it), which must have bounded options. */
  constructor(client: Redis, options: RedisRegistryOptions) {
    assertBounded(client);
    this.#client = client;
    this.#keys = redisKeys(options.namespace);
    this.#now = options.now ?? Date.now;
  }

  /** One round trip: SET NX GET begins an epoch where there is none, or returns the one held. */
  async epoch(): Promise<RegistryEpoch> {
    assertConnected(this.#client);
    const fresh = { id: randomUUID(), since: this.#now() };
    const held = await this.#client.set(
      this.#keys.registryEpoch,
      `${fresh.id}:${fresh.since}`,
      "NX",
      "GET",
    );
    if (held === null) return fresh;
    const at = held.lastIndexOf(":");
    const since = Number(held.slice(at + 1));
    if (at <= 0 || !Number.isFinite(since)) {
      throw new Error(`the registry epoch ${JSON.stringify(held)} is not "<id>:<since>"`);
    }
    return { id: held.slice(0, at), since };
  }

  async markGatewayAlive(gatewayId: string, ttlMs: number): Promise<void> {
    await this.#record(() => this.#keys.liveGateways, gatewayId, ["all"], ttlMs);
  }

  liveGateways(): Promise<string[]> {
    return this.#live(this.#keys.liveGateways);
  }

  /** One round trip: the entries (as #record), then each room's routed seq. */
  async subscribeRooms(
    gatewayId: string,
    roomIds: readonly string[],
    ttlMs: number,
  ): Promise<Map<string, number>> {
    const replies = await this.#record(
      this.#keys.roomGateways,
      gatewayId,
      roomIds,
      ttlMs,
      (p, id) => p.zscore(this.#keys.roomRouted(id), ROUTED),
    );
    return new Map(roomIds.map((id, i): [string, number] => [id, Number(replies[i] ?? 0)]));
  }

  unsubscribeRooms(gatewayId: string, roomIds: readonly string[]): Promise<void> {
    return this.#remove(this.#keys.roomGateways, gatewayId, roomIds);
  }

  gatewaysForRoom(roomId: string): Promise<string[]> {
    return this.#live(this.#keys.roomGateways(roomId));
  }

  /** One round trip: per room, its routing seq (ZADD GT, PEXPIRE) first, then as #live. */
  async gatewaysForRooms(routing: ReadonlyMap<string, number>): Promise<Map<string, string[]>> {
    for (const seq of routing.values()) if (seq !== 0) checkRouting(seq);
    if (routing.size === 0) return new Map();
    assertConnected(this.#client);
    const now = this.#now();
    const pipeline = this.#client.pipeline();
    /** room → where its ZRANGE's reply is */
    const reads = new Map<string, number>();
    for (const [roomId, seq] of routing) {
      if (seq > 0) {
        const key = this.#keys.roomRouted(roomId);
        pipeline.zadd(key, "GT", seq, ROUTED);
        pipeline.pexpire(key, ROUTED_SEQ_TTL_MS);
      }
      const key = this.#keys.roomGateways(roomId);
      pipeline.zremrangebyscore(key, "-inf", now);
      pipeline.zrange(key, `(${now}`, "+inf", "BYSCORE");
      reads.set(roomId, pipeline.length - 1);
    }
    const replies = await execPipeline(pipeline);
    return new Map([...reads].map(([roomId, at]) => [roomId, replies[at] as string[]]));
  }

  /**
   * RoomRouter's step in one script (routeScript), publishing on the channels RedisDelivery of
   * the same namespace listens to; rooms in the order of their first payload.
   */
  async routeRooms(routes: readonly RoomRoute[]): Promise<number> {
    if (routes.length === 0) return 0;
    assertConnected(this.#client);
    /** room → [its 1-based index, the highest seq routed to it] */
    const rooms = new Map<string, [number, number]>();
    for (const { roomId, seq } of routes) {
      if (seq !== 0) checkRouting(seq);
      const room = rooms.get(roomId);
      if (room === undefined) rooms.set(roomId, [rooms.size + 1, seq]);
      else room[1] = Math.max(room[1], seq);
    }
    const keys: string[] = [];
    const args: (string | number)[] = [
      this.#now(),
      ROUTED_SEQ_TTL_MS,
      this.#keys.gatewayChannel(""),
      ROUTED,
    ];
    for (const [roomId, [, seq]] of rooms) {
      keys.push(this.#keys.roomRouted(roomId), this.#keys.roomGateways(roomId));
      args.push(seq);
    }
    for (const { roomId, payload } of routes) args.push(rooms.get(roomId)?.[0] ?? 0, payload);
    let sent: unknown;
    try {
      sent = await this.#client.evalsha(routeSha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
      sent = await this.#client.eval(routeScript, keys.length, ...keys, ...args);
    }
    if (typeof sent !== "number") {
      throw new Error(`unexpected reply from the route script: ${JSON.stringify(sent)}`);
    }
    return sent;
  }

  async markOnline(gatewayId: string, userIds: readonly string[], ttlMs: number): Promise<void> {
    await this.#record(this.#keys.userGateways, gatewayId, userIds, ttlMs);
  }

  markOffline(gatewayId: string, userId: string): Promise<void> {
    return this.#remove(this.#keys.userGateways, gatewayId, [userId]);
  }

  gatewaysForUser(userId: string): Promise<string[]> {
    return this.#live(this.#keys.userGateways(userId));
  }

  /** One round trip: a ZCOUNT of live entries per user. */
  async onlineUsers(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    assertConnected(this.#client);
    const after = `(${this.#now()}`;
    const pipeline = this.#client.pipeline();
    for (const userId of userIds) pipeline.zcount(this.#keys.userGateways(userId), after, "+inf");
    const counts = await execPipeline(pipeline);
    return new Set(userIds.filter((_, i) => Number(counts[i]) > 0));
  }

  ping(): Promise<void> {
    return pingRedis(this.#client);
  }

  close(): Promise<void> {
    return closeClient(this.#client);
  }

  /**
   * One round trip: per id, the entry, then a key expiry that only ever grows (NX, then GT),
   * then `read` of each id, whose (last) replies are returned in the order of `ids`.
   */
  async #record(
    keyOf: (id: string) => string,
    gatewayId: string,
    ids: readonly string[],
    ttlMs: number,
    read?: (pipeline: ChainableCommander, id: string) => void,
  ): Promise<unknown[]> {
    checkTtl(ttlMs);
    if (ids.length === 0) return [];
    assertConnected(this.#client);
    const expiry = this.#now() + ttlMs;
    const keyTtl = Math.ceil(ttlMs) + keyGraceMs;
    const pipeline = this.#client.pipeline();
    const reads: number[] = [];
    for (const id of ids) {
      const key = keyOf(id);
      pipeline.zadd(key, expiry, gatewayId);
      pipeline.pexpire(key, keyTtl, "NX");
      pipeline.pexpire(key, keyTtl, "GT");
      if (read !== undefined) {
        read(pipeline, id);
        reads.push(pipeline.length - 1);
      }
    }
    const replies = await execPipeline(pipeline);
    return reads.map((at) => replies[at]);
  }

  async #remove(
    keyOf: (id: string) => string,
    gatewayId: string,
    ids: readonly string[],
  ): Promise<void> {
    if (ids.length === 0) return;
    assertConnected(this.#client);
    const pipeline = this.#client.pipeline();
    for (const id of ids) pipeline.zrem(keyOf(id), gatewayId);
    await execPipeline(pipeline);
  }

  /** One round trip: purge entries expired at `now`, then read those expiring after it. */
  async #live(key: string): Promise<string[]> {
    assertConnected(this.#client);
    const now = this.#now();
    const pipeline = this.#client.pipeline();
    pipeline.zremrangebyscore(key, "-inf", now);
    pipeline.zrange(key, `(${now}`, "+inf", "BYSCORE");
    const [, members] = await execPipeline(pipeline);
    return members as string[];
  }
}
