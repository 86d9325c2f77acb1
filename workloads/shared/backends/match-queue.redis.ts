// MatchQueue in Redis. Every state change is one Lua script, so enqueue, cancel and pairing are
// atomic against each other and across matcher and gateway replicas. Keys (under the cluster's
// namespace): mq:queue (sorted set of pending ticket ids by enqueue time), mq:t:<id> (ticket
// hash), mq:req:<user>:<request> (request id → ticket), mq:user:<user> (the pending ticket),
// mq:outbox (list of pairs to hand over), mq:lease:<pair> (who is handing a pair over),
// mq:version (bumped by every enqueue and cancel) and mq:idle (the version a fruitless pairing
// step saw, and until when nothing can pair without a change: later steps return at once).
// The scripts touch keys they derive from data, which a single Redis (or a primary with
// replicas) allows; Redis Cluster would need hash tags on every key (docs/decisions/0007).
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type {
  MatchPair,
  MatchQueue,
  MatchRequest,
  MatchTicket,
  PairOptions,
} from "./match-queue.ts";
import {
  boundedRedisOptions,
  checkNamespace,
  closeClient,
  pingRedis,
  type RedisClientSettings,
} from "./redis-keys.ts";

/** tickets and request ids are kept this long after their last change */
const TICKET_TTL_SECONDS = 86_400;
const MAX_PAIRS_PER_STEP = 64;

const ENQUEUE = `
local ns, user, req, tid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl = tonumber(ARGV[8])
local reqKey = ns .. 'mq:req:' .. user .. ':' .. req
local known = redis.call('GET', reqKey)
if known and redis.call('EXISTS', ns .. 'mq:t:' .. known) == 1 then return known end
local userKey = ns .. 'mq:user:' .. user
local pending = redis.call('GET', userKey)
if pending and redis.call('EXISTS', ns .. 'mq:t:' .. pending) == 1 then
  redis.call('SET', reqKey, pending, 'EX', ttl)
  return pending
end
local tk = ns .. 'mq:t:' .. tid
redis.call('HSET', tk, 'user', user, 'req', req, 'state', 'pending', 'tags', ARGV[5], 'lang', ARGV[6], 'at', ARGV[7])
redis.call('EXPIRE', tk, ttl)
redis.call('SET', reqKey, tid, 'EX', ttl)
redis.call('SET', userKey, tid, 'EX', ttl)
redis.call('ZADD', ns .. 'mq:queue', ARGV[7], tid)
redis.call('INCR', ns .. 'mq:version')
return tid
`;

const CANCEL = `
local ns, user, tid = ARGV[1], ARGV[2], ARGV[3]
local userKey = ns .. 'mq:user:' .. user
if tid == '' then
  tid = redis.call('GET', userKey)
  if not tid then return false end
end
local tk = ns .. 'mq:t:' .. tid
local owner, state = unpack(redis.call('HMGET', tk, 'user', 'state'))
if owner ~= user or state ~= 'pending' then return false end
redis.call('HSET', tk, 'state', 'cancelled')
redis.call('ZREM', ns .. 'mq:queue', tid)
redis.call('INCR', ns .. 'mq:version')
if redis.call('GET', userKey) == tid then redis.call('DEL', userKey) end
return tid
`;

// ARGV: ns, now, fallbackMs, maxScan, ticket ttl, pair ids... Two tickets pair when they are
// compatible (shared tag or language, or one side did not ask) or both waited out the fallback.
const PAIR = `
local ns, now, fallback, maxScan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local queue = ns .. 'mq:queue'
local ttl = tonumber(ARGV[5])
local version = redis.call('GET', ns .. 'mq:version') or '0'
local idle = redis.call('HMGET', ns .. 'mq:idle', 'version', 'until')
if idle[1] == version and now < tonumber(idle[2]) then return {} end
local ids = redis.call('ZRANGE', queue, 0, maxScan - 1)
local t = {}
for _, id in ipairs(ids) do
  local user, state, tags, lang, at = unpack(redis.call('HMGET', ns .. 'mq:t:' .. id, 'user', 'state', 'tags', 'lang', 'at'))
  if state ~= 'pending' then
    redis.call('ZREM', queue, id)
  else
    local set, n = {}, 0
    for tag in string.gmatch(tags or '', '[^,]+') do set[tag] = true; n = n + 1 end
    t[#t + 1] = { id = id, user = user, tags = set, ntags = n, lang = lang or '', at = tonumber(at) }
  end
end
local function compatible(x, y)
  if x.lang ~= '' and y.lang ~= '' and x.lang ~= y.lang then return false end
  if x.ntags == 0 or y.ntags == 0 then return true end
  for tag in pairs(x.tags) do if y.tags[tag] then return true end end
  return false
end
local function waited(x) return now - x.at >= fallback end
local used, out, nextId = {}, {}, 6
for i = 1, #t do
  if not used[i] and ARGV[nextId] then
    local x = t[i]
    for j = i + 1, #t do
      local y = t[j]
      if not used[j] and y.user ~= x.user and
         ((waited(x) and waited(y)) or compatible(x, y)) then
        used[i], used[j] = true, true
        local pid = ARGV[nextId]
        nextId = nextId + 1
        for _, pair in ipairs({ { x, y }, { y, x } }) do
          local a, b = pair[1], pair[2]
          redis.call('HSET', ns .. 'mq:t:' .. a.id, 'state', 'matched', 'room', pid, 'partner', b.user, 'matchedAt', now)
          redis.call('EXPIRE', ns .. 'mq:t:' .. a.id, ttl)
          redis.call('ZREM', queue, a.id)
          local userKey = ns .. 'mq:user:' .. a.user
          if redis.call('GET', userKey) == a.id then redis.call('DEL', userKey) end
        end
        local p = cjson.encode({ id = pid, a = { ticketId = x.id, userId = x.user, enqueuedAt = x.at },
                                 b = { ticketId = y.id, userId = y.user, enqueuedAt = y.at }, at = now })
        redis.call('RPUSH', ns .. 'mq:outbox', p)
        out[#out + 1] = p
        break
      end
    end
  end
end
if #out == 0 then
  -- nothing can pair until a ticket comes or goes, or the two oldest have waited the fallback
  local later = 9e15
  if #t >= 2 then later = t[2].at + fallback end
  redis.call('HSET', ns .. 'mq:idle', 'version', version, 'until', string.format('%d', later))
else
  redis.call('DEL', ns .. 'mq:idle')
end
return out
`;

const CLAIM = `
local ns, worker, lease = ARGV[1], ARGV[2], ARGV[3]
for _, item in ipairs(redis.call('LRANGE', ns .. 'mq:outbox', 0, 99)) do
  local p = cjson.decode(item)
  if redis.call('SET', ns .. 'mq:lease:' .. p.id, worker, 'NX', 'PX', lease) then return item end
end
return false
`;

const COMPLETE = `
local ns, pid = ARGV[1], ARGV[2]
for _, item in ipairs(redis.call('LRANGE', ns .. 'mq:outbox', 0, -1)) do
  if cjson.decode(item).id == pid then redis.call('LREM', ns .. 'mq:outbox', 1, item) break end
end
redis.call('DEL', ns .. 'mq:lease:' .. pid)
return 1
`;

const scripts = { ENQUEUE, CANCEL, PAIR, CLAIM, COMPLETE } as const;
type ScriptName = keyof typeof scripts;
const shas = Object.fromEntries(
  Object.entries(scripts).map(([k, v]) => [k, createHash("sha1").update(v).digest("hex")]),
) as Record<ScriptName, string>;

export class RedisMatchQueue implements MatchQueue {
  readonly #client: Redis;
  readonly #ns: string;

  static connect(
    url: string,
    options: { namespace: string } & RedisClientSettings,
  ): RedisMatchQueue {
    return new RedisMatchQueue(new Redis(url, boundedRedisOptions(options)), options);
  }

  /** Takes ownership of the client: close() quits it. */
  constructor(client: Redis, options: { namespace: string }) {
    this.#client = client;
    this.#ns = checkNamespace(options.namespace);
  }

  async enqueue(r: MatchRequest, now: number): Promise<MatchTicket> {
    const tags = r.tags.map((t) => t.replaceAll(",", " ")).join(",");
    const id = (await this.#run("ENQUEUE", [
      this.#ns,
      r.userId,
      r.requestId,
      randomUUID(),
      tags,
      r.language ?? "",
      String(now),
      String(TICKET_TTL_SECONDS),
    ])) as string;
    const ticket = await this.getTicket(id);
    if (ticket === undefined) throw new Error(`match ticket ${id} vanished right after enqueue`);
    return ticket;
  }

  async getTicket(ticketId: string): Promise<MatchTicket | undefined> {
    const h = await this.#client.hgetall(`${this.#ns}mq:t:${ticketId}`);
    if (h.user === undefined) return undefined;
    return {
      id: ticketId,
      userId: h.user,
      requestId: h.req ?? "",
      state: (h.state ?? "pending") as MatchTicket["state"],
      tags: (h.tags ?? "").split(",").filter((t) => t !== ""),
      language: h.lang === undefined || h.lang === "" ? null : h.lang,
      enqueuedAt: Number(h.at),
      ...(h.room === undefined ? {} : { roomId: h.room }),
      ...(h.partner === undefined ? {} : { partnerId: h.partner }),
      ...(h.matchedAt === undefined ? {} : { matchedAt: Number(h.matchedAt) }),
    };
  }

  async cancel(userId: string, ticketId: string): Promise<boolean> {
    return (await this.#run("CANCEL", [this.#ns, userId, ticketId])) !== null;
  }

  async cancelUser(userId: string): Promise<string | undefined> {
    const id = (await this.#run("CANCEL", [this.#ns, userId, ""])) as string | null;
    return id ?? undefined;
  }

  async pair(o: PairOptions): Promise<MatchPair[]> {
    const ids = Array.from(
      { length: Math.min(MAX_PAIRS_PER_STEP, Math.floor(o.maxScan / 2)) },
      () => randomUUID(),
    );
    const out = (await this.#run("PAIR", [
      this.#ns,
      String(o.now),
      String(o.fallbackWaitMs),
      String(o.maxScan),
      String(TICKET_TTL_SECONDS),
      ...ids,
    ])) as string[];
    return out.map((p) => JSON.parse(p) as MatchPair);
  }

  async claimPair(workerId: string, leaseMs: number): Promise<MatchPair | undefined> {
    const item = (await this.#run("CLAIM", [this.#ns, workerId, String(leaseMs)])) as string | null;
    return item === null ? undefined : (JSON.parse(item) as MatchPair);
  }

  async completePair(pair: MatchPair): Promise<void> {
    await this.#run("COMPLETE", [this.#ns, pair.id]);
  }

  async queueLength(): Promise<number> {
    return this.#client.zcard(`${this.#ns}mq:queue`);
  }

  ping(): Promise<void> {
    return pingRedis(this.#client);
  }

  async close(): Promise<void> {
    await closeClient(this.#client);
  }

  /** EVALSHA, and once, when the server does not hold the script yet, EVAL (which caches it). */
  async #run(name: ScriptName, args: readonly string[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(shas[name], 0, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
      return this.#client.eval(scripts[name], 0, ...args);
    }
  }
}
