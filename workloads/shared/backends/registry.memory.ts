// Registry in memory, for the embedded default: one process is the whole cluster. Same
// semantics as the Redis adapter: an entry lives while its expiry is after `now()`.
import { randomUUID } from "node:crypto";
import {
  checkRouting,
  checkTtl,
  type Registry,
  type RegistryEpoch,
  ROUTED_SEQ_TTL_MS,
} from "./registry.ts";

/** the one key of the live-gateways entries */
const ALL = "all";

export interface MemoryRegistryOptions {
  /** the clock, in ms; tests inject one to expire entries without waiting */
  readonly now?: () => number;
}

/** every this many writes, entries of rooms and users nobody reads are swept */
const sweepEvery = 1024;

/** id (room or user) → gateway id → expiry (ms) */
type Entries = Map<string, Map<string, number>>;

export class MemoryRegistry implements Registry {
  readonly #now: () => number;
  readonly #rooms: Entries = new Map();
  readonly #users: Entries = new Map();
  readonly #gateways: Entries = new Map();
  /** room id → the highest seq a routing lookup named, and when that record expires */
  readonly #routed = new Map<string, { seq: number; expiry: number }>();
  #epoch: RegistryEpoch | undefined;
  #writes = 0;

  constructor(options: MemoryRegistryOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async epoch(): Promise<RegistryEpoch> {
    this.#epoch ??= { id: randomUUID(), since: this.#now() };
    return this.#epoch;
  }

  async markGatewayAlive(gatewayId: string, ttlMs: number) {
    this.#record(this.#gateways, gatewayId, [ALL], ttlMs);
  }

  async liveGateways(): Promise<string[]> {
    return live(this.#gateways, ALL, this.#now());
  }

  /** Loses every entry and the epoch, as a Redis restarted without persistence does. */
  forget(): void {
    this.#rooms.clear();
    this.#users.clear();
    this.#gateways.clear();
    this.#routed.clear();
    this.#epoch = undefined;
  }

  async subscribeRooms(gatewayId: string, roomIds: readonly string[], ttlMs: number) {
    this.#record(this.#rooms, gatewayId, roomIds, ttlMs);
    const now = this.#now();
    return new Map(roomIds.map((id): [string, number] => [id, this.#routedSeq(id, now)]));
  }

  async unsubscribeRooms(gatewayId: string, roomIds: readonly string[]) {
    for (const roomId of roomIds) remove(this.#rooms, roomId, gatewayId);
  }

  async gatewaysForRoom(roomId: string): Promise<string[]> {
    return live(this.#rooms, roomId, this.#now());
  }

  async gatewaysForRooms(routing: ReadonlyMap<string, number>): Promise<Map<string, string[]>> {
    for (const seq of routing.values()) if (seq !== 0) checkRouting(seq);
    const now = this.#now();
    const found = new Map<string, string[]>();
    for (const [roomId, routed] of routing) {
      if (routed > 0) {
        const seq = Math.max(routed, this.#routedSeq(roomId, now));
        this.#routed.set(roomId, { seq, expiry: now + ROUTED_SEQ_TTL_MS });
      }
      found.set(roomId, live(this.#rooms, roomId, now));
    }
    return found;
  }

  #routedSeq(roomId: string, now: number): number {
    const routed = this.#routed.get(roomId);
    if (routed === undefined) return 0;
    if (routed.expiry > now) return routed.seq;
    this.#routed.delete(roomId);
    return 0;
  }

  async markOnline(gatewayId: string, userIds: readonly string[], ttlMs: number) {
    this.#record(this.#users, gatewayId, userIds, ttlMs);
  }

  async markOffline(gatewayId: string, userId: string) {
    remove(this.#users, userId, gatewayId);
  }

  async gatewaysForUser(userId: string): Promise<string[]> {
    return live(this.#users, userId, this.#now());
  }

  async onlineUsers(userIds: readonly string[]): Promise<Set<string>> {
    const now = this.#now();
    return new Set(userIds.filter((userId) => live(this.#users, userId, now).length > 0));
  }

  /** In-process: always reachable. */
  async ping(): Promise<void> {}

  async close() {
    this.#routed.clear();
    this.#rooms.clear();
    this.#users.clear();
    this.#gateways.clear();
  }

  #record(entries: Entries, gatewayId: string, ids: readonly string[], ttlMs: number) {
    checkTtl(ttlMs);
    const now = this.#now();
    const expiry = now + ttlMs;
    for (const id of ids) {
      let gateways = entries.get(id);
      if (gateways === undefined) {
        gateways = new Map();
        entries.set(id, gateways);
      }
      gateways.set(gatewayId, expiry);
    }
    this.#writes += 1;
    if (this.#writes % sweepEvery === 0) {
      for (const id of this.#rooms.keys()) live(this.#rooms, id, now);
      for (const id of this.#users.keys()) live(this.#users, id, now);
      for (const id of this.#routed.keys()) this.#routedSeq(id, now);
    }
  }
}

/** The gateways whose entry for `id` expires after `now`; drops the others. */
function live(entries: Entries, id: string, now: number): string[] {
  const gateways = entries.get(id);
  if (gateways === undefined) return [];
  const alive: string[] = [];
  for (const [gatewayId, expiry] of gateways) {
    if (expiry > now) alive.push(gatewayId);
    else gateways.delete(gatewayId);
  }
  if (gateways.size === 0) entries.delete(id);
  return alive;
}

function remove(entries: Entries, id: string, gatewayId: string): void {
  const gateways = entries.get(id);
  if (gateways === undefined) return;
  gateways.delete(gatewayId);
  if (gateways.size === 0) entries.delete(id);
}
