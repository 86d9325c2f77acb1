// Login sessions and their revocation. A session is a refresh-token family (one login and every
// token rotated from it), and every access token carries its id as the `sid` claim.
//
// Logging out, or reusing a refresh token, revokes the family in the store, which is the one
// truth. Every gateway checks an access token's sid against it, remembering a "not revoked"
// answer for at most REVOCATION_CHECK_MS: that is the bound within which a revocation made on
// any gateway takes effect for REST requests and new sockets everywhere. The revoking gateway
// also tells the gateways where the user is online (over the delivery path), and they refuse
// the session at once and close its sockets with 4005 SESSION_REVOKED; a gateway the word did
// not reach finds the session revoked on its next heartbeat sweep (SocketServer).
//
// The server API's disconnect takes the same path for all of a user's sockets, whatever their
// session (4007 DISCONNECTED): closed here at once, and on the gateways where the user is
// online when they hear of it. Nothing is stored, so there is no sweep behind it: a socket that
// had not sent hello on another gateway (not yet in the registry) may be missed.
import { ChatError, UNAVAILABLE_RETRY_AFTER_MS } from "../../shared/errors.ts";
import { encode } from "../../shared/events.ts";
import type { GatewayContext } from "../core/context.ts";

/** How old a gateway's "this session is not revoked" may be: the revocation bound. */
export const REVOCATION_CHECK_MS = 2_000;
/** sessions remembered per gateway; the oldest answer is forgotten first (and read again) */
const MAX_REMEMBERED = 100_000;

interface Known {
  readonly revoked: boolean;
  readonly at: number;
}

export type SessionRevokedListener = (userId: string, sessionId: string) => void;
export type UserDisconnectedListener = (userId: string, reason: string | undefined) => void;

export class Sessions {
  readonly #ctx: Pick<GatewayContext, "store" | "registry" | "delivery" | "log">;
  readonly #now: () => number;
  readonly #known = new Map<string, Known>();
  readonly #listeners: SessionRevokedListener[] = [];
  readonly #disconnectListeners: UserDisconnectedListener[] = [];
  /** single-session checks in flight */
  readonly #pending = new Map<string, Promise<boolean>>();

  constructor(
    ctx: Pick<GatewayContext, "store" | "registry" | "delivery" | "log">,
    now: () => number = Date.now,
  ) {
    this.#ctx = ctx;
    this.#now = now;
  }

  /** Called for every session found revoked here or elsewhere (the gateway closes its sockets). */
  onRevoked(listener: SessionRevokedListener): void {
    this.#listeners.push(listener);
  }

  /** Called for every user disconnected here or elsewhere (the gateway closes their sockets). */
  onDisconnected(listener: UserDisconnectedListener): void {
    this.#disconnectListeners.push(listener);
  }

  /**
   * Closes every socket of the user: here at once, and on the gateways the registry lists for
   * them (this one too, as for a revocation), told over the delivery path. Resolves how many
   * gateways the registry listed.
   */
  async disconnect(userId: string, reason: string | undefined): Promise<number> {
    const gateways = await this.#ctx.registry.gatewaysForUser(userId);
    this.disconnectedElsewhere(userId, reason);
    const payload = encode({
      kind: "disconnect",
      userId,
      ...(reason === undefined ? {} : { reason }),
    });
    await this.#ctx.delivery.sendMany(gateways.map((gatewayId) => ({ gatewayId, payload })));
    return gateways.length;
  }

  /** A disconnect heard of (from the delivery path or this gateway's own disconnect). */
  disconnectedElsewhere(userId: string, reason: string | undefined): void {
    for (const listener of this.#disconnectListeners) listener(userId, reason);
  }

  /** One session; concurrent checks of the same session share one store read. */
  async isRevoked(sessionId: string): Promise<boolean> {
    const pending = this.#pending.get(sessionId);
    if (pending !== undefined) return pending;
    const check = this.revokedAmong([sessionId]).then((set) => set.has(sessionId));
    this.#pending.set(sessionId, check);
    try {
      return await check;
    } finally {
      this.#pending.delete(sessionId);
    }
  }

  /**
   * The revoked sessions among `sessionIds`: from what this gateway knows when it is fresh
   * enough, the rest in one read of the store. A store that fails falls back on what was known
   * however old; a session never seen then fails as UNAVAILABLE.
   */
  async revokedAmong(sessionIds: readonly string[]): Promise<Set<string>> {
    const now = this.#now();
    const revoked = new Set<string>();
    const ask: string[] = [];
    for (const sid of new Set(sessionIds)) {
      const k = this.#known.get(sid);
      if (k?.revoked === true) revoked.add(sid);
      else if (k === undefined || now - k.at >= REVOCATION_CHECK_MS) ask.push(sid);
    }
    if (ask.length === 0) return revoked;
    let found: Set<string>;
    try {
      found = await this.#ctx.store.revokedRefreshFamilies(ask);
    } catch (err) {
      this.#ctx.log.warn({ err }, "session check failed");
      if (ask.some((sid) => !this.#known.has(sid))) {
        throw new ChatError("UNAVAILABLE", "the session store did not answer; retry", {
          retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
        });
      }
      return revoked;
    }
    for (const sid of ask) {
      const isRevoked = found.has(sid);
      this.#remember(sid, isRevoked);
      if (isRevoked) revoked.add(sid);
    }
    return revoked;
  }

  /**
   * Ends the session everywhere: revoked in the store, refused here at once, and the gateways
   * holding the user's sockets told to refuse it and close them.
   */
  async revoke(userId: string, sessionId: string): Promise<void> {
    await this.#ctx.store.revokeRefreshFamily(sessionId);
    this.revokedElsewhere(userId, sessionId);
    try {
      const gateways = await this.#ctx.registry.gatewaysForUser(userId);
      const payload = encode({ kind: "revoked", userId, sessionId });
      await this.#ctx.delivery.sendMany(gateways.map((gatewayId) => ({ gatewayId, payload })));
    } catch (err) {
      // the store holds the revocation: other gateways still refuse the session within the bound
      this.#ctx.log.warn({ err, userId }, "telling gateways of a revoked session failed");
    }
  }

  /** A revocation heard of (from the delivery path or this gateway's own revoke). */
  revokedElsewhere(userId: string, sessionId: string): void {
    this.#remember(sessionId, true);
    for (const listener of this.#listeners) listener(userId, sessionId);
  }

  #remember(sessionId: string, revoked: boolean): void {
    this.#known.delete(sessionId);
    this.#known.set(sessionId, { revoked, at: this.#now() });
    if (this.#known.size > MAX_REMEMBERED) {
      const oldest = this.#known.keys().next();
      if (oldest.done !== true) this.#known.delete(oldest.value);
    }
  }
}
