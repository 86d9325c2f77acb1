// Access and refresh tokens (JWT, HS256, jose). Access tokens are short-lived and verified on
// every request and WebSocket upgrade, their session (`sid`, the refresh family) included.
// Refresh tokens rotate: each use consumes the token and issues a new one of the same family; a
// second use of a consumed token is a reuse, and revokes the whole session (the usual sign that
// a token was stolen), as logging out does. See sessions.ts for how fast a revocation bites.
import { randomBytes, randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { Store } from "../../shared/backends/store.ts";
import { ChatError } from "../../shared/errors.ts";
import type { Sessions } from "./sessions.ts";

export interface TokenConfig {
  readonly secret: Uint8Array;
  readonly issuer: string;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
}

export interface TokenPair {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly token_type: "Bearer";
  readonly expires_in: number;
}

/**
 * How long single sign-on's one-time code lives: from the callback's redirect to the web
 * client's exchange, which follows at once.
 */
export const HANDOFF_TTL_MS = 60_000;
/** Handoff codes are kept beside refresh tokens under this prefix (no token id has it). */
const HANDOFF_PREFIX = "sso:";
/** 32 random bytes, base64url */
export const HANDOFF_CODE_PATTERN = "^[A-Za-z0-9_-]{43}$";

export interface AccessClaims {
  readonly userId: string;
  readonly username: string;
  /** the login session (refresh-token family) the token belongs to */
  readonly sessionId: string;
}

export class Tokens {
  readonly #cfg: TokenConfig;
  readonly #store: Store;
  readonly #sessions: Sessions;
  readonly #now: () => number;

  constructor(cfg: TokenConfig, store: Store, sessions: Sessions, now: () => number = Date.now) {
    this.#cfg = cfg;
    this.#store = store;
    this.#sessions = sessions;
    this.#now = now;
  }

  async issue(userId: string, username: string, family: string = randomUUID()): Promise<TokenPair> {
    const nowSec = Math.floor(this.#now() / 1000);
    const access = await new SignJWT({ name: username, typ: "access", sid: family })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setIssuer(this.#cfg.issuer)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + this.#cfg.accessTtlSeconds)
      .sign(this.#cfg.secret);
    const jti = randomUUID();
    const expiresAt = new Date((nowSec + this.#cfg.refreshTtlSeconds) * 1000);
    await this.#store.saveRefreshToken({ id: jti, userId, family, expiresAt });
    const refresh = await new SignJWT({ typ: "refresh", fam: family, name: username })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setJti(jti)
      .setIssuer(this.#cfg.issuer)
      .setIssuedAt(nowSec)
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.#cfg.secret);
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: "Bearer",
      expires_in: this.#cfg.accessTtlSeconds,
    };
  }

  /**
   * A one-time code for a new session of the user: single sign-on puts it in the URL it sends the
   * browser back to, and the web client trades it for tokens (redeemHandoff), so tokens never
   * appear in a URL. Kept as a refresh-token row, for its single use across gateways.
   */
  async handoff(userId: string): Promise<{ code: string; sessionId: string }> {
    const code = randomBytes(32).toString("base64url");
    const sessionId = randomUUID();
    await this.#store.saveRefreshToken({
      id: HANDOFF_PREFIX + code,
      userId,
      family: sessionId,
      expiresAt: new Date(this.#now() + HANDOFF_TTL_MS),
    });
    return { code, sessionId };
  }

  /** Ends a session as a logout does: refused on every gateway within the bound, sockets closed. */
  endSession(userId: string, sessionId: string): Promise<void> {
    return this.#sessions.revoke(userId, sessionId);
  }

  /** How long a session lasts at most: its refresh tokens' lifetime. */
  get sessionTtlSeconds(): number {
    return this.#cfg.refreshTtlSeconds;
  }

  /**
   * Consumes a handoff code: the user and the session (family) to issue tokens for. A second use
   * ends the session the first one started, as a refresh token's reuse does.
   */
  async redeemHandoff(code: string): Promise<{ userId: string; sessionId: string }> {
    const id = HANDOFF_PREFIX + code;
    const stored = await this.#store.getRefreshToken(id);
    if (stored === undefined) {
      throw new ChatError("SSO_CODE_INVALID", "the sign-on code is unknown or expired");
    }
    if (!(await this.#store.consumeRefreshToken(id))) {
      await this.#sessions.revoke(stored.userId, stored.family);
      throw new ChatError(
        "SSO_CODE_INVALID",
        "the sign-on code was used already; the session it started is ended",
      );
    }
    return { userId: stored.userId, sessionId: stored.family };
  }

  /** A valid access token of a session that is not revoked (within REVOCATION_CHECK_MS). */
  async verifyAccess(token: string): Promise<AccessClaims> {
    const payload = await this.#verify(token, "access");
    if (typeof payload.sid !== "string") {
      // issued before tokens named their session: it cannot be revoked, so it is not accepted
      throw new ChatError("TOKEN_EXPIRED", "access token has no session; refresh it");
    }
    if (await this.#sessions.isRevoked(payload.sid)) {
      throw new ChatError("SESSION_REVOKED", "the session was ended (logout or token reuse)");
    }
    return { userId: payload.sub, username: String(payload.name ?? ""), sessionId: payload.sid };
  }

  /** Rotates a refresh token: consumes it and issues a new pair of the same family. */
  async refresh(token: string): Promise<TokenPair> {
    const p = await this.#verify(token, "refresh");
    const jti = typeof p.jti === "string" ? p.jti : "";
    const stored = await this.#store.getRefreshToken(jti);
    if (stored === undefined || stored.userId !== p.sub) {
      throw new ChatError("UNAUTHENTICATED", "refresh token is unknown, expired or revoked");
    }
    // before the token is consumed: a failure here leaves it usable for the client's retry
    await this.#renewSignOn(stored.family);
    if (!(await this.#store.consumeRefreshToken(jti))) {
      await this.#sessions.revoke(stored.userId, stored.family);
      throw new ChatError(
        "REFRESH_TOKEN_REUSED",
        "refresh token was already used; the session is revoked",
      );
    }
    return this.issue(stored.userId, String(p.name ?? ""), stored.family);
  }

  /**
   * A session a provider's sign-on started lives as long as it is refreshed, so the record the
   * provider's back-channel logout finds it by is renewed with it: else a session refreshed for
   * longer than the refresh lifetime would outlive its record, and the provider could no
   * longer end it.
   */
  async #renewSignOn(sessionId: string): Promise<void> {
    const signOn = await this.#store.signOnOf(sessionId);
    if (signOn === undefined) return;
    const expiresAt = new Date(this.#now() + this.#cfg.refreshTtlSeconds * 1000);
    await this.#store.saveSignOnSession({ ...signOn, expiresAt });
  }

  /**
   * Logs out: ends the access token's session, and the session of `refreshToken` when it is a
   * valid token of the same user (normally the same session). Other refresh tokens are ignored.
   */
  async logout(claims: AccessClaims, refreshToken: string | undefined): Promise<void> {
    await this.#sessions.revoke(claims.userId, claims.sessionId);
    if (refreshToken === undefined) return;
    const p = await this.#verify(refreshToken, "refresh").catch(() => undefined);
    if (p === undefined || p.sub !== claims.userId || typeof p.fam !== "string") return;
    if (p.fam !== claims.sessionId) await this.#sessions.revoke(claims.userId, p.fam);
  }

  async #verify(token: string, typ: "access" | "refresh") {
    try {
      const { payload } = await jwtVerify(token, this.#cfg.secret, {
        issuer: this.#cfg.issuer,
        algorithms: ["HS256"],
        currentDate: new Date(this.#now()),
      });
      if (payload.typ !== typ || typeof payload.sub !== "string") {
        throw new ChatError("UNAUTHENTICATED", `not an ${typ} token`);
      }
      return payload as typeof payload & { sub: string };
    } catch (err) {
      if (err instanceof ChatError) throw err;
      if (err instanceof errors.JWTExpired)
        throw new ChatError("TOKEN_EXPIRED", `${typ} token expired`);
      throw new ChatError("UNAUTHENTICATED", `invalid ${typ} token`);
    }
  }
}
