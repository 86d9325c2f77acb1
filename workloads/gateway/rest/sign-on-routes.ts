// /v1/auth/oidc/*: single sign-on (docs/decisions/0023-single-sign-on.md).
//
//   GET  /v1/auth/oidc            is it on, and the provider's name for the button
//   GET  /v1/auth/oidc/start      302 to the provider, with the sealed flow in a cookie
//   GET  /v1/auth/oidc/callback   the provider sends the browser back here: 302 to the web
//                                 client with `#sso_code=<one-time code>` (or `#sso_error=<code>
//                                 &sso_message=<why>`) in the fragment, which no server sees
//   POST /v1/auth/oidc/exchange   the web client trades the code for the user and tokens
//   POST /v1/auth/oidc/logout     (signed in) ends the session, and answers where to send the
//                                 browser to end the provider's session too (RP-initiated
//                                 logout) when the session came from a sign-on in this browser
//   POST /v1/auth/oidc/link       (signed in) the provider's URL for a flow whose callback links
//                                 the provider's account to the caller, and its cookie; the
//                                 callback then sends the browser to `/#sso_linked=<provider>`
import type { FastifyInstance, FastifyReply } from "fastify";
import { ChatError } from "../../shared/errors.ts";
import { linkToUser, signInAs } from "../auth/linking.ts";
import {
  FLOW_COOKIE,
  FLOW_TTL_SECONDS,
  type LinkRequest,
  PROVIDER_SESSION_COOKIE,
  type ProviderIdentity,
  type SignOn,
} from "../auth/sign-on.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import { userJson } from "./auth-routes.ts";
import { AUTH_ERRORS, authenticate, errorResponses, limitByAddress } from "./http.ts";
import {
  AuthBody,
  BackChannelLogoutBody,
  type BackChannelLogoutBodyT,
  LogoutBody,
  type LogoutBodyT,
  SignOnExchangeBody,
  type SignOnExchangeBodyT,
  SignOnInfoBody,
  SignOnLinkBody,
  SignOnLogoutBody,
} from "./schemas.ts";

const PREFIX = "/v1/auth/oidc";
/** Where the callback sends the browser: the web client, which the gateway serves at /. */
const WEB_CLIENT = "/";
/** Said beside the sso_code when a password account has the provider's email, unlinked. */
export const UNVERIFIED_ACCOUNT_NOTICE =
  "An account with your email already exists, but its email was never verified, so this sign-on made a new account instead of joining it. If that account is yours: sign in to it with its password and link this provider from there.";

export function signOnRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  signOn: SignOn | undefined,
): void {
  const tags = ["auth"];
  const anon = limitByAddress(ctx);
  const configured = (): SignOn => {
    if (signOn === undefined) {
      throw new ChatError(
        "SSO_NOT_CONFIGURED",
        "single sign-on is not set up on this gateway: sign in with a password",
      );
    }
    return signOn;
  };
  const secure = signOn?.settings.redirectUrl.protocol === "https:";
  const flowCookie = (value: string, maxAge: number) =>
    `${FLOW_COOKIE}=${value}; Path=${PREFIX}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
  // Strict: only our own pages send it, so no other site can make a browser end its sessions
  const sessionCookie = (value: string, maxAge: number) =>
    `${PROVIDER_SESSION_COOKIE}=${value}; Path=${PREFIX}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
  const toWebClient = (
    reply: FastifyReply,
    fragment: Record<string, string>,
    cookies: readonly string[] = [],
  ) =>
    reply
      .header("set-cookie", [flowCookie("", 0), ...cookies])
      .header("cache-control", "no-store")
      .redirect(`${WEB_CLIENT}#${new URLSearchParams(fragment)}`, 302);

  app.get(
    PREFIX,
    {
      schema: {
        tags,
        summary: "Is single sign-on on",
        description:
          "Whether this gateway signs in with an OpenID Connect provider, and the provider's name for the web client's button.",
        response: { 200: SignOnInfoBody },
      },
    },
    async () =>
      signOn === undefined
        ? { enabled: false }
        : { enabled: true, provider_name: signOn.settings.providerName },
  );

  app.get(
    `${PREFIX}/start`,
    {
      schema: {
        tags,
        summary: "Start a single sign-on",
        description: `Redirects the browser to the provider's login page (authorization code flow with PKCE). The flow's state, nonce and PKCE verifier travel, encrypted, in the ${FLOW_COOKIE} cookie (${FLOW_TTL_SECONDS} s), so any gateway of the cluster can take the callback. Limited per client address.`,
        response: {
          302: { description: "To the provider's authorization endpoint", type: "null" },
          ...errorResponses("SSO_NOT_CONFIGURED"),
        },
      },
      preHandler: anon,
    },
    async (_req, reply) => {
      const { url, sealed } = await configured().start();
      return reply
        .header("set-cookie", flowCookie(sealed, FLOW_TTL_SECONDS))
        .header("cache-control", "no-store")
        .redirect(url.href, 302);
    },
  );

  app.get(
    `${PREFIX}/callback`,
    {
      schema: {
        tags,
        summary: "The provider's redirect back (OIDC_REDIRECT_URL)",
        description:
          "Checks the provider's answer against the flow cookie (state, then the code redeemed with the PKCE verifier, then the ID token's signature, audience and nonce), finds or makes the account (docs/decisions/0023), and redirects to the web client with a one-time code in the fragment: `/#sso_code=...`, to trade at POST /v1/auth/oidc/exchange within 60 s, and `&sso_notice=<text>` when a password account has the provider's email but was not joined (its email is unverified: its owner links it from inside its session). A flow started by POST /v1/auth/oidc/link links instead and redirects with `/#sso_linked=<provider name>`. A refusal redirects with `/#sso_error=<error code>&sso_message=<why>` (SSO_FAILED, SSO_IDENTITY_LINKED, UNAVAILABLE). Limited per client address.",
        response: {
          302: { description: "To the web client, with sso_code or sso_error", type: "null" },
          ...errorResponses("SSO_NOT_CONFIGURED"),
        },
      },
      preHandler: anon,
    },
    async (req, reply) => {
      const sso = configured();
      const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
      try {
        const { who, link, idToken } = await sso.finish(
          query,
          readCookie(req.headers.cookie, FLOW_COOKIE),
        );
        if (link !== undefined) {
          await linkFromSession(who, link);
          req.log.info({ userId: link.userId, issuer: who.issuer }, "single sign-on linked");
          return toWebClient(reply, { sso_linked: sso.settings.providerName });
        }
        const { user, kind, unverifiedAccount } = await signInAs(ctx.store, who);
        req.log.info({ userId: user.id, issuer: who.issuer, kind }, "single sign-on");
        const { code, sessionId } = await tokens.handoff(user.id);
        const ttl = tokens.sessionTtlSeconds;
        // for the provider's back-channel logout: which of our sessions its session started
        await ctx.store.saveSignOnSession({
          issuer: who.issuer,
          subject: who.subject,
          providerSessionId: who.sessionId,
          sessionId,
          userId: user.id,
          expiresAt: new Date(Date.now() + ttl * 1000),
        });
        // the ID token, for the provider's logout when this session signs out
        const cookies = sso.settings.providerLogout
          ? [sessionCookie(await sso.sessions.seal({ idToken, sessionId }, ttl), ttl)]
          : [];
        return toWebClient(
          reply,
          {
            sso_code: code,
            ...(unverifiedAccount === true ? { sso_notice: UNVERIFIED_ACCOUNT_NOTICE } : {}),
          },
          cookies,
        );
      } catch (err) {
        if (!(err instanceof ChatError)) throw err;
        req.log.warn({ code: err.code, reason: err.message }, "single sign-on refused");
        ctx.metrics.errors.inc({ code: err.code });
        return toWebClient(reply, { sso_error: err.code, sso_message: err.message });
      }
    },
  );

  /** A link asked for from a session: still open, and its user still there. */
  const linkFromSession = async (who: ProviderIdentity, link: LinkRequest): Promise<void> => {
    const [user, revoked] = await Promise.all([
      ctx.store.getUser(link.userId),
      ctx.store.revokedRefreshFamilies([link.sessionId]),
    ]);
    if (user === undefined || revoked.has(link.sessionId)) {
      throw new ChatError(
        "SSO_FAILED",
        "the session that asked for the link has ended: sign in and link again",
      );
    }
    await linkToUser(ctx.store, who, user);
  };

  app.post<{ Body: LogoutBodyT }>(
    `${PREFIX}/logout`,
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "Log out, at the provider too",
        description: `Ends the bearer token's session as POST /v1/auth/logout does (and the refresh token's, if one of yours is given). When that session came from a single sign-on in this browser (the ${PROVIDER_SESSION_COOKIE} cookie, HttpOnly, SameSite=Strict, set by the callback, holds its ID token) and OIDC_PROVIDER_LOGOUT is on, the answer's end_session_url is the provider's end_session_endpoint with the ID token as id_token_hint and OIDC_POST_LOGOUT_REDIRECT_URL (by default the web client) as post_logout_redirect_uri: send the browser there to end the provider's session too (RP-initiated logout), so that the next sign-in asks for the password again. Without it (a password session, provider logout off, a provider without end_session_endpoint) there is nothing more to do.`,
        body: LogoutBody,
        response: {
          200: SignOnLogoutBody,
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", ...AUTH_ERRORS, "SSO_NOT_CONFIGURED"),
        },
      },
      preValidation: async (req) => {
        req.body ??= {};
      },
      preHandler: authenticate(ctx, tokens),
    },
    async (req, reply) => {
      const sso = configured();
      await tokens.logout(
        { userId: req.userId, username: req.username, sessionId: req.sessionId },
        req.body.refresh_token,
      );
      const held = readCookie(req.headers.cookie, PROVIDER_SESSION_COOKIE);
      const session = await sso.sessions.open(held);
      reply.header("cache-control", "no-store");
      // another session's (a sign-on in another tab): left for that session's own logout
      if (session !== undefined && session.sessionId !== req.sessionId) return {};
      if (held !== undefined) reply.header("set-cookie", sessionCookie("", 0));
      if (session === undefined) return {};
      const url = await sso.endSessionUrl(session.idToken).catch((err: unknown) => {
        // our session is over either way; the provider's stays (its discovery failed)
        req.log.warn({ err }, "no provider logout: the provider did not answer");
        return undefined;
      });
      return url === undefined ? {} : { end_session_url: url.href };
    },
  );

  // the provider posts a form (application/x-www-form-urlencoded), parsed here only
  app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 32 * 1024 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    scope.post<{ Body: BackChannelLogoutBodyT }>(
      `${PREFIX}/backchannel-logout`,
      {
        schema: {
          tags,
          summary: "The provider ends sessions (back-channel logout)",
          description: `OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token (a form field, or JSON) when a person's session there ends (they logged out elsewhere, an administrator ended it, it was revoked). The token must be signed with one of the provider's keys (its jwks_uri), from its issuer, for this client (OIDC_CLIENT_ID), at most 5 minutes old, with the back-channel logout event and no nonce. Every session of ours that a sign-on of the provider's session (\`sid\`) started — or, when the token names only a subject, any sign-on of that subject — is ended as a logout ends it: refused on every gateway within 2 s, its sockets closed with 4005. Register <public URL>${PREFIX}/backchannel-logout as the client's back-channel logout URL at the provider (Keycloak: "Backchannel logout URL", with "session required").`,
          consumes: ["application/x-www-form-urlencoded", "application/json"],
          body: BackChannelLogoutBody,
          response: {
            200: {
              description: "The sessions it names are ended (none is fine)",
              type: "object",
              properties: {},
            },
            ...errorResponses(
              "BAD_REQUEST",
              "FRAME_TOO_LARGE",
              "SSO_NOT_CONFIGURED",
              "UNAVAILABLE",
            ),
          },
        },
        preHandler: anon,
      },
      async (req, reply) => {
        const sso = configured();
        const { issuer, by } = await sso.verifyLogoutToken(req.body.logout_token);
        const sessions = await ctx.store.signOnSessions(issuer, by);
        for (const s of sessions) await tokens.endSession(s.userId, s.sessionId);
        req.log.info(
          { issuer, by: "sid" in by ? "sid" : "subject", sessions: sessions.length },
          "the provider ended sessions (back-channel logout)",
        );
        return reply.header("cache-control", "no-store").send({});
      },
    );
  });

  app.post(
    `${PREFIX}/link`,
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "Link a provider's account to yours",
        description: `How a password account gets its owner's single sign-on (a sign-on never links to it by email: we never verified its email; docs/decisions/0023). Answers the provider's login URL and sets the ${FLOW_COOKIE} cookie (${FLOW_TTL_SECONDS} s) for a flow that, once the person signs in there, links that account at the provider to the bearer token's user and sends the browser to the web client with \`#sso_linked=<provider name>\`; later sign-ins with it sign in as this user. Refused at the callback (\`#sso_error=...\`): SSO_IDENTITY_LINKED when that account at the provider already signs in to another user, SSO_FAILED when this session ended meanwhile or the provider's answer fails a check.`,
        response: {
          200: SignOnLinkBody,
          ...errorResponses(...AUTH_ERRORS, "SSO_NOT_CONFIGURED"),
        },
      },
      preHandler: authenticate(ctx, tokens),
    },
    async (req, reply) => {
      const { url, sealed } = await configured().start({
        userId: req.userId,
        sessionId: req.sessionId,
      });
      return reply
        .header("set-cookie", flowCookie(sealed, FLOW_TTL_SECONDS))
        .header("cache-control", "no-store")
        .send({ authorization_url: url.href });
    },
  );

  app.post<{ Body: SignOnExchangeBodyT }>(
    `${PREFIX}/exchange`,
    {
      schema: {
        tags,
        summary: "Trade the sign-on's one-time code for tokens",
        description:
          "The code from the callback's redirect, once: the answer holds the user and the tokens of a new session, as login's does. A second use ends that session. Limited per client address.",
        body: SignOnExchangeBody,
        response: {
          200: { description: "The user and the tokens of a new session", ...AuthBody },
          ...errorResponses("BAD_REQUEST", "SSO_NOT_CONFIGURED", "SSO_CODE_INVALID"),
        },
      },
      preHandler: anon,
    },
    async (req) => {
      configured();
      const { userId, sessionId } = await tokens.redeemHandoff(req.body.code);
      const user = await ctx.store.getUser(userId);
      if (user === undefined) throw new ChatError("SSO_CODE_INVALID", "the code's user is gone");
      return {
        user: userJson(user),
        tokens: await tokens.issue(user.id, user.username, sessionId),
      };
    },
  );
}

/** One cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
