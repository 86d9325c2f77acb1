// Access and refresh tokens (JWT, HS256, jose). Access tokens are short-lived and verified on
// every request and WebSocket upgrade. Refresh tokens rotate: each use consumes the token and
// issues a new one of the same family; a second use of a consumed token is a reuse, and revokes
// the whole family (the usual sign that a token was stolen).
import { randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { Store } from "../../shared/backends/store.ts";
import { ChatError } from "../../shared/errors.ts";

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

export interface AccessClaims {
  readonly userId: string;
  readonly username: string;
}

export class Tokens {
  readonly #cfg: TokenConfig;
  readonly #store: Store;
  readonly #now: () => number;

  constructor(cfg: TokenConfig, store: Store, now: () => number = Date.now) {
    this.#cfg = cfg;
    this.#store = store;
    this.#now = now;
  }

  async issue(userId: string, username: string, family: string = randomUUID()): Promise<TokenPair> {
    const nowSec = Math.floor(this.#now() / 1000);
    const access = await new SignJWT({ name: username, typ: "access" })
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

  async verifyAccess(token: string): Promise<AccessClaims> {
    const payload = await this.#verify(token, "access");
    return { userId: payload.sub, username: String(payload.name ?? "") };
  }

  /** Rotates a refresh token: consumes it and issues a new pair of the same family. */
  async refresh(token: string): Promise<TokenPair> {
    const p = await this.#verify(token, "refresh");
    const jti = typeof p.jti === "string" ? p.jti : "";
    const stored = await this.#store.getRefreshToken(jti);
    if (stored === undefined || stored.userId !== p.sub) {
      throw new ChatError("UNAUTHENTICATED", "refresh token is unknown, expired or revoked");
    }
    if (!(await this.#store.consumeRefreshToken(jti))) {
      await this.#store.revokeRefreshFamily(stored.family);
      throw new ChatError(
        "REFRESH_TOKEN_REUSED",
        "refresh token was already used; the session is revoked",
      );
    }
    return this.issue(stored.userId, String(p.name ?? ""), stored.family);
  }

  /** Ends the session the refresh token belongs to. Unknown tokens are ignored. */
  async revoke(token: string): Promise<void> {
    const p = await this.#verify(token, "refresh").catch(() => undefined);
    if (p === undefined || typeof p.fam !== "string") return;
    await this.#store.revokeRefreshFamily(p.fam);
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
