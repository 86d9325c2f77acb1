// Single sign-on with any OpenID Connect provider: the authorization code flow with PKCE, through
// openid-client (docs/decisions/0023-single-sign-on.md).
//
// What it guarantees:
// - The flow's secrets (state, nonce, PKCE verifier) never live in a gateway's memory: start()
//   seals them into a short-lived cookie, encrypted and authenticated with a key derived from
//   JWT_SECRET, which every gateway shares. So the provider may send the browser back to any
//   gateway, and a gateway restart in between loses nothing.
// - finish() accepts an authorization response only with that cookie's state, a code the
//   provider redeems against the cookie's PKCE verifier, and an ID token signed by the provider
//   for this client carrying the cookie's nonce. Anything else is SSO_FAILED, saying which check
//   failed.
// - The provider is discovered on first use, not at start-up (a gateway starts while the
//   provider is away); a failed discovery is tried again by the next request. Every request to
//   the provider has a timeout.
// - Signing out of a session a sign-on started can end the provider's session too (RP-initiated
//   logout): the sign-on's ID token, the hint the provider's end_session_endpoint wants, is kept
//   only in the browser, sealed in an HttpOnly cookie bound to that session
//   (ProviderSessionSealer), never in a gateway and never readable by scripts.
import { createHash } from "node:crypto";
import {
  createRemoteJWKSet,
  EncryptJWT,
  type JWTPayload,
  errors as joseErrors,
  jwtDecrypt,
  jwtVerify,
} from "jose";
import * as oidc from "openid-client";
import type { SignOnLookup } from "../../shared/backends/store.ts";
import { ChatError } from "../../shared/errors.ts";

export interface SignOnSettings {
  readonly issuer: URL;
  readonly clientId: string;
  /** none: a public client, PKCE alone */
  readonly clientSecret: string | undefined;
  /** this gateway's callback as the browser reaches it: <public URL>/v1/auth/oidc/callback */
  readonly redirectUrl: URL;
  readonly scopes: string;
  /** shown on the web client's button */
  readonly providerName: string;
  /** signing out of a sign-on's session also ends the provider's (RP-initiated logout) */
  readonly providerLogout: boolean;
  /** where the provider sends the browser after its logout: the web client, by default */
  readonly postLogoutRedirectUrl: URL;
}

/** The cookie that carries a flow from start to callback. */
export const FLOW_COOKIE = "sb_oidc_flow";
/** The cookie that keeps a sign-on's ID token for the provider's logout, bound to its session. */
export const PROVIDER_SESSION_COOKIE = "sb_oidc_session";
/** How long a person may take at the provider's login page. */
export const FLOW_TTL_SECONDS = 600;
/** Every request to the provider (discovery, token, keys). */
const PROVIDER_TIMEOUT_SECONDS = 15;
/** The event a back-channel logout token carries. */
export const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token issued longer ago than this is refused (a replay). */
const LOGOUT_TOKEN_MAX_AGE = "5m";

/** What start() hides in the cookie and finish() checks the provider's answer against. */
export interface Flow {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  /** a flow started from inside a session, to link the provider's account to its user */
  readonly link?: LinkRequest;
}

/** Who asked to link a provider's account to theirs: the user and the session they asked from. */
export interface LinkRequest {
  readonly userId: string;
  readonly sessionId: string;
}

/** Who the provider says signed in, from its verified ID token. */
export interface ProviderIdentity {
  readonly issuer: string;
  readonly subject: string;
  /** the provider's session this sign-on belongs to (the ID token's `sid`), if it names one */
  readonly sessionId: string | undefined;
  /** lower-cased */
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  readonly preferredUsername: string | undefined;
  readonly name: string | undefined;
}

const fail = (message: string) => new ChatError("SSO_FAILED", message);

/** Seals and opens flow cookies: JWE (dir, A256GCM) under a key derived from the JWT secret. */
export class FlowSealer {
  readonly #key: Uint8Array;
  readonly #now: () => number;

  constructor(jwtSecret: Uint8Array, now: () => number = Date.now) {
    // a key of its own: a sealed flow is never mistaken for a token, nor a token for a flow
    this.#key = createHash("sha256").update("switchboard oidc flow\0").update(jwtSecret).digest();
    this.#now = now;
  }

  async seal(flow: Flow): Promise<string> {
    const now = Math.floor(this.#now() / 1000);
    const link = flow.link === undefined ? {} : { lu: flow.link.userId, ls: flow.link.sessionId };
    return new EncryptJWT({ st: flow.state, nn: flow.nonce, cv: flow.verifier, ...link })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setIssuedAt(now)
      .setExpirationTime(now + FLOW_TTL_SECONDS)
      .encrypt(this.#key);
  }

  async open(sealed: string | undefined): Promise<Flow> {
    if (sealed === undefined || sealed === "") {
      throw fail(
        `no sign-on in progress in this browser (the ${FLOW_COOKIE} cookie is missing): start again`,
      );
    }
    try {
      const { payload: p } = await jwtDecrypt(sealed, this.#key, {
        currentDate: new Date(this.#now()),
      });
      if (typeof p.st !== "string" || typeof p.nn !== "string" || typeof p.cv !== "string") {
        throw fail("the sign-on cookie is malformed: start again");
      }
      const flow = { state: p.st, nonce: p.nn, verifier: p.cv };
      if (p.lu === undefined && p.ls === undefined) return flow;
      if (typeof p.lu !== "string" || typeof p.ls !== "string") {
        throw fail("the sign-on cookie is malformed: start again");
      }
      return { ...flow, link: { userId: p.lu, sessionId: p.ls } };
    } catch (err) {
      if (err instanceof ChatError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw fail(`the sign-on took longer than ${FLOW_TTL_SECONDS} s: start again`);
      }
      throw fail("the sign-on cookie is not one this cluster made: start again");
    }
  }
}

/** What the provider-session cookie holds: the sign-on's ID token and the session it started. */
export interface ProviderSession {
  readonly idToken: string;
  readonly sessionId: string;
}

/**
 * Seals and opens provider-session cookies: JWE (dir, A256GCM) under a key of their own derived
 * from the JWT secret. Opening anything else (or an expired one) gives undefined: there is then
 * no provider session to end, which never stops our own logout.
 */
export class ProviderSessionSealer {
  readonly #key: Uint8Array;
  readonly #now: () => number;

  constructor(jwtSecret: Uint8Array, now: () => number = Date.now) {
    this.#key = createHash("sha256")
      .update("switchboard oidc session\0")
      .update(jwtSecret)
      .digest();
    this.#now = now;
  }

  async seal(session: ProviderSession, ttlSeconds: number): Promise<string> {
    const now = Math.floor(this.#now() / 1000);
    return new EncryptJWT({ it: session.idToken, sid: session.sessionId })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .encrypt(this.#key);
  }

  async open(sealed: string | undefined): Promise<ProviderSession | undefined> {
    if (sealed === undefined || sealed === "") return undefined;
    try {
      const { payload: p } = await jwtDecrypt(sealed, this.#key, {
        currentDate: new Date(this.#now()),
      });
      return typeof p.it === "string" && typeof p.sid === "string"
        ? { idToken: p.it, sessionId: p.sid }
        : undefined;
    } catch {
      return undefined;
    }
  }
}

export class SignOn {
  readonly settings: SignOnSettings;
  readonly #sealer: FlowSealer;
  /** the provider-session cookie's sealer */
  readonly sessions: ProviderSessionSealer;
  #config: Promise<oidc.Configuration> | undefined;
  /** the provider's signing keys, fetched when a logout token first needs them */
  #keys: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(settings: SignOnSettings, sealer: FlowSealer, sessions: ProviderSessionSealer) {
    this.settings = settings;
    this.#sealer = sealer;
    this.sessions = sessions;
  }

  /** The provider's metadata and keys, discovered once; a failure is tried again next time. */
  configuration(): Promise<oidc.Configuration> {
    this.#config ??= this.#discover().catch((err: unknown) => {
      this.#config = undefined;
      throw err;
    });
    return this.#config;
  }

  async #discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    try {
      return await oidc.discovery(
        issuer,
        clientId,
        undefined,
        clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(clientSecret),
        {
          timeout: PROVIDER_TIMEOUT_SECONDS,
          // plain http only to a provider on loopback (tests, hack/stack); anywhere else https
          execute: isLoopbackHttp(issuer) ? [oidc.allowInsecureRequests] : [],
        },
      );
    } catch (err) {
      throw new ChatError(
        "UNAVAILABLE",
        `the sign-on provider ${issuer.href} did not answer its discovery: ${describe(err)}`,
      );
    }
  }

  /**
   * The provider's authorization URL for a new flow, and the sealed flow for the cookie; with
   * `link`, a flow that links the provider's account to that signed-in user.
   */
  async start(link?: LinkRequest): Promise<{ url: URL; sealed: string }> {
    const config = await this.configuration();
    const flow: Flow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      ...(link === undefined ? {} : { link }),
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl.href,
      scope: this.settings.scopes,
      response_type: "code",
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: "S256",
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url, sealed: await this.#sealer.seal(flow) };
  }

  /**
   * Checks the provider's answer (`query`: the callback's query string) against the sealed flow,
   * redeems the code and verifies the ID token: who signed in, and the flow's link request.
   */
  async finish(
    query: string,
    sealed: string | undefined,
  ): Promise<{ who: ProviderIdentity; link: LinkRequest | undefined; idToken: string }> {
    const flow = await this.#sealer.open(sealed);
    const config = await this.configuration();
    const current = new URL(this.settings.redirectUrl);
    current.search = query;
    let claims: oidc.IDToken | undefined;
    let idToken: string | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        pkceCodeVerifier: flow.verifier,
        idTokenExpected: true,
      });
      claims = tokens.claims();
      idToken = tokens.id_token;
    } catch (err) {
      throw fail(`the provider's answer was refused: ${describe(err)}`);
    }
    if (claims === undefined || idToken === undefined) throw fail("the provider sent no ID token");
    const email = typeof claims.email === "string" ? claims.email.toLowerCase() : undefined;
    const who: ProviderIdentity = {
      issuer: claims.iss,
      subject: claims.sub,
      sessionId: stringClaim(claims.sid),
      email,
      // only a literal true counts: some providers send the string "true", some nothing
      emailVerified: email !== undefined && claims.email_verified === true,
      preferredUsername: stringClaim(claims.preferred_username),
      name: stringClaim(claims.name),
    };
    return { who, link: flow.link, idToken };
  }

  /**
   * Checks a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6): a JWT
   * signed with one of the provider's keys, from its issuer, for this client, issued recently,
   * with the logout event, no nonce, and a `sid` or a `sub`. Resolves the issuer and which of
   * its sessions it ends; anything else is BAD_REQUEST, saying which check failed.
   */
  async verifyLogoutToken(token: string): Promise<{ issuer: string; by: SignOnLookup }> {
    const config = await this.configuration();
    const meta = config.serverMetadata();
    if (meta.jwks_uri === undefined) {
      throw new ChatError("UNAVAILABLE", "the provider publishes no keys (jwks_uri)");
    }
    this.#keys ??= createRemoteJWKSet(new URL(meta.jwks_uri), {
      timeoutDuration: PROVIDER_TIMEOUT_SECONDS * 1000,
    });
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.#keys, {
        issuer: meta.issuer,
        audience: this.settings.clientId,
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE,
        clockTolerance: 30,
      }));
    } catch (err) {
      // the provider's keys could not be had (it is away or slow): not the token's fault
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        throw new ChatError("UNAVAILABLE", `the provider's keys did not come: ${describe(err)}`);
      }
      throw new ChatError("BAD_REQUEST", `the logout token was refused: ${describe(err)}`);
    }
    return { issuer: meta.issuer, by: logoutTarget(claims) };
  }

  /**
   * Where to send the browser to end the provider's session of the sign-on whose ID token this
   * is (RP-initiated logout): the provider's end_session_endpoint with the token as hint and
   * the post-logout redirect. Undefined when provider logout is off or the provider has none.
   */
  async endSessionUrl(idToken: string): Promise<URL | undefined> {
    if (!this.settings.providerLogout) return undefined;
    const config = await this.configuration();
    if (config.serverMetadata().end_session_endpoint === undefined) return undefined;
    return oidc.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: this.settings.postLogoutRedirectUrl.href,
    });
  }
}

/**
 * What a verified logout token's claims end (2.4 and 2.6 of the spec): its provider session
 * (`sid`) where it names one, else every session of its subject. BAD_REQUEST without the logout
 * event, with a nonce (an ID token passed off as a logout token), or without either.
 */
export function logoutTarget(claims: JWTPayload): SignOnLookup {
  const events = claims.events;
  if (typeof events !== "object" || events === null || !(LOGOUT_EVENT in events)) {
    throw new ChatError("BAD_REQUEST", `the logout token has no ${LOGOUT_EVENT} event`);
  }
  if (claims.nonce !== undefined) {
    throw new ChatError("BAD_REQUEST", "a logout token must not have a nonce");
  }
  const sid = stringClaim(claims.sid);
  if (sid !== undefined) return { sid };
  const subject = stringClaim(claims.sub);
  if (subject !== undefined) return { subject };
  throw new ChatError(
    "BAD_REQUEST",
    "the logout token names neither a session (sid) nor a subject",
  );
}

function stringClaim(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** What went wrong, in words: the provider's error and description where it sent them. */
function describe(err: unknown): string {
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    return `${err.error}${err.error_description === undefined ? "" : ` (${err.error_description})`}`;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    // openid-client wraps oauth4webapi's error, whose message names the check (state, nonce,
    // audience...); its own cause holds the values compared, which stay out of the message
    const inner = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${inner}${typeof code === "string" ? ` [${code}]` : ""}`;
  }
  return String(err);
}
