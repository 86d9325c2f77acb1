// Registry: who is connected where. Gateways record which rooms their sockets hold and which
// users are online on them; the forwarder asks which gateways hold a room's receivers.
// Entries carry an expiry that the owning gateway refreshes on its heartbeat, so a dead pod's
// entries expire by themselves. Redis in production, memory in the embedded default.

/** How often gateways (and, at most, forwarders) read the registry's epoch. */
export const REGISTRY_EPOCH_CHECK_MS = 1_000;
/**
 * How long after a new epoch began forwarders deliver every event to every live gateway as
 * well: long enough for each gateway to notice (one check) and register again.
 */
export const REGISTRY_SETTLE_MS = 5_000;
/**
 * How long a room's routed seq is kept after its last routing lookup: longer than a message
 * waits for its write while the store answers (docs/decisions/0024).
 */
export const ROUTED_SEQ_TTL_MS = 600_000;

/** One life of the registry's data: a new epoch begins whenever that data was lost. */
export interface RegistryEpoch {
  readonly id: string;
  /** when the epoch began, in ms of the registry's clock */
  readonly since: number;
}

/** One payload for a room's gateways; `seq` above 0 is recorded as routed first (as gatewaysForRooms). */
export interface RoomRoute {
  readonly roomId: string;
  readonly seq: number;
  readonly payload: string;
}

/**
 * Routes room payloads in one step: per room, what gatewaysForRooms does (the routed seq
 * recorded, then the room's live gateways read), then each payload sent to those gateways, in
 * order — with the same guarantees as that lookup followed by Delivery.sendMany, in one round
 * trip where those took two (Redis: one script; decision 0027). Resolves the payloads sent.
 */
export interface RoomRouter {
  /** whether routing through it is right now (its delivery path is not failing over) */
  readonly usable: () => boolean;
  routeRooms(routes: readonly RoomRoute[]): Promise<number>;
}

export interface Registry {
  /**
   * The current epoch, beginning a new one (at `now`) when the registry holds none: after a
   * restart without persistence, a failover to an empty replica, a flush or an eviction.
   * Gateways re-register everything when the epoch changes; forwarders deliver to every live
   * gateway while it is young (docs/decisions/0005).
   */
  epoch(): Promise<RegistryEpoch>;
  /** Records the gateway as alive until `ttlMs` from now. */
  markGatewayAlive(gatewayId: string, ttlMs: number): Promise<void>;
  /** Gateways whose liveness has not expired. */
  liveGateways(): Promise<string[]>;

  /**
   * Records that `gatewayId` holds sockets subscribed to these rooms, until `ttlMs` from now
   * (refreshing the expiry of rooms already recorded). Answers, per room, the highest seq a
   * lookup named before this write (0 if none in the last ROUTED_SEQ_TTL_MS): a message up to
   * it may have been routed past this gateway, and may not be stored yet (decision 0024).
   */
  subscribeRooms(
    gatewayId: string,
    roomIds: readonly string[],
    ttlMs: number,
  ): Promise<Map<string, number>>;
  unsubscribeRooms(gatewayId: string, roomIds: readonly string[]): Promise<void>;
  /** Gateways whose subscription to the room has not expired. */
  gatewaysForRoom(roomId: string): Promise<string[]>;
  /**
   * gatewaysForRoom of every room of `routing` at once (one round trip in Redis). A room's
   * value, when above 0, is the highest seq about to be routed to it, recorded first: a gateway
   * that subscribes after this read learns it from subscribeRooms. Each command is atomic and
   * one client's run in order, so either the lookup sees the gateway or the gateway sees the
   * seq.
   */
  gatewaysForRooms(routing: ReadonlyMap<string, number>): Promise<Map<string, string[]>>;

  /** Records the user as online on the gateway until `ttlMs` from now. */
  markOnline(gatewayId: string, userIds: readonly string[], ttlMs: number): Promise<void>;
  markOffline(gatewayId: string, userId: string): Promise<void>;
  /** Gateways on which the user is online (not expired). */
  gatewaysForUser(userId: string): Promise<string[]>;
  /** The subset of `userIds` online on at least one gateway. */
  onlineUsers(userIds: readonly string[]): Promise<Set<string>>;

  /** Resolves while the backend can serve now; rejects saying why (bounded in time). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A TTL must be a positive number of milliseconds (the contract holds both adapters to it). */
export function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
}

/** A routing seq is a message's seq. */
export function checkRouting(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(`routing must be a seq (an integer ≥ 1), got ${seq}`);
  }
}
