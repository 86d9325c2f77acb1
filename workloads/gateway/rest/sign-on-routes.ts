// /v1/auth/oidc/*: single sign-on (docs/decisions/0023-single-sign-on.md).
//
//   GET  /v1/auth/oidc            is it on, and the provider's name for the button
//   GET  /v1/auth/oidc/start      302 to the provider, with the sealed flow in a cookie
//   GET  /v1/auth/oidc/callback   the provider sends the browser back here: 302 to the web
//                                 client with `#sso_code=<one-time code>` (or `#sso_error=<code>
//                                 &sso_message=<why>`) in the fragment, which no server sees
//   POST /v1/auth/oidc/exchange   the web client trades the code for the user and tokens
import type { FastifyInstance, FastifyReply } from "fastify";
import { ChatError } from "../../shared/errors.ts";
import { signInAs } from "../auth/linking.ts";
import { FLOW_COOKIE, FLOW_TTL_SECONDS, type SignOn } from "../auth/sign-on.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import { userJson } from "./auth-routes.ts";
import { errorResponses, limitByAddress } from "./http.ts";
import {
  AuthBody,
  SignOnExchangeBody,
  type SignOnExchangeBodyT,
  SignOnInfoBody,
} from "./schemas.ts";

const PREFIX = "/v1/auth/oidc";
/** Where the callback sends the browser: the web client, which the gateway serves at /. */
const WEB_CLIENT = "/";

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
  const toWebClient = (reply: FastifyReply, fragment: Record<string, string>) =>
    reply
      .header("set-cookie", flowCookie("", 0))
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
          "Checks the provider's answer against the flow cookie (state, then the code redeemed with the PKCE verifier, then the ID token's signature, audience and nonce), finds or makes the account (docs/decisions/0023), and redirects to the web client with a one-time code in the fragment: `/#sso_code=...`, to trade at POST /v1/auth/oidc/exchange within 60 s. A refusal redirects with `/#sso_error=<error code>&sso_message=<why>` (SSO_FAILED, UNAVAILABLE). Limited per client address.",
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
        const who = await sso.finish(query, readCookie(req.headers.cookie, FLOW_COOKIE));
        const { user, kind } = await signInAs(ctx.store, who);
        req.log.info({ userId: user.id, issuer: who.issuer, kind }, "single sign-on");
        return toWebClient(reply, { sso_code: await tokens.handoff(user.id) });
      } catch (err) {
        if (!(err instanceof ChatError)) throw err;
        req.log.warn({ code: err.code, reason: err.message }, "single sign-on refused");
        ctx.metrics.errors.inc({ code: err.code });
        return toWebClient(reply, { sso_error: err.code, sso_message: err.message });
      }
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
