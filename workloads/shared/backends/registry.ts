// Registry: who is connected where. Gateways record which rooms their sockets hold and which
// users are online on them; the forwarder asks which gateways hold a room's receivers.
// Entries carry an expiry that the owning gateway refreshes on its heartbeat, so a dead pod's
// entries expire by themselves. Redis in production, memory in the embedded default.

export interface Registry {
  /**
   * Records that `gatewayId` holds sockets subscribed to these rooms, until `ttlMs` from now
   * (refreshing the expiry of rooms already recorded).
   */
  subscribeRooms(gatewayId: string, roomIds: readonly string[], ttlMs: number): Promise<void>;
  unsubscribeRooms(gatewayId: string, roomIds: readonly string[]): Promise<void>;
  /** Gateways whose subscription to the room has not expired. */
  gatewaysForRoom(roomId: string): Promise<string[]>;

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
