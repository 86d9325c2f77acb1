// Single sign-on on the real stack and the real provider (Keycloak from hack/stack): the whole
// authorization code flow over HTTP, through the provider's own login form, with the flow
// started on one gateway and the provider's redirect taken by the other (as behind a load
// balancer), the account linking rules (never by an email we did not verify; a password
// account's owner links the provider from inside their session), and every check of the
// provider's answer refusing what it must, with a clear error.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import {
  FLOW_COOKIE,
  FlowSealer,
  LOGOUT_EVENT,
  PROVIDER_SESSION_COOKIE,
  ProviderSessionSealer,
} from "../../workloads/gateway/auth/sign-on.ts";
import {
  ChatSocket,
  ChatStack,
  CookieJar,
  freePort,
  OpenApiChecker,
  oidcBackChannel,
  oidcProvider,
  oidcUsers,
  providerLogin,
  Rest,
  signOnEnv,
  waitFor,
} from "../testkit/index.ts";

describe("single sign-on with a real OpenID Connect provider (2 gateways)", () => {
  let stack: ChatStack;
  let plain: ChatStack | undefined;
  let own: ChatStack | undefined;
  const users = oidcUsers();
  const gw = (i: number) => stack.gateways[i]?.url as string;
  const rest = (i: number) => new Rest(gw(i));

  before(async () => {
    stack = await ChatStack.start({ gateways: 0, forwarders: 1 });
    // both gateways name gateway 1's callback: the provider sends every browser back there
    const ports = [await freePort(), await freePort()];
    const env = signOnEnv(ports[1] as number);
    for (const port of ports) await stack.startGateway({ ...env, PORT: String(port) });
  });

  after(async () => {
    await stack.stop();
    await plain?.stop();
    await own?.stop();
  });

  /** start on gateway 0: the provider's URL, and the jar holding the flow cookie */
  async function start(): Promise<{ jar: CookieJar; authorizationUrl: URL }> {
    const jar = new CookieJar();
    const { res, location } = await jar.get302(`${gw(0)}/v1/auth/oidc/start`);
    assert.equal(res.status, 302);
    assert.ok(location, "start redirects to the provider");
    assert.ok(jar.get(FLOW_COOKIE), "start sets the flow cookie");
    return { jar, authorizationUrl: location };
  }

  /** the provider's redirect taken by gateway 1: the fragment it sends the browser to */
  async function callback(jar: CookieJar, redirect: URL): Promise<URLSearchParams> {
    assert.equal(redirect.origin, new URL(gw(1)).origin, "the provider sends the browser back");
    const { res, location } = await jar.get302(redirect);
    assert.equal(res.status, 302);
    assert.equal(location?.pathname, "/", "the callback sends the browser to the web client");
    assert.equal(location?.search, "", "nothing in the query, which servers log");
    assert.equal(jar.get(FLOW_COOKIE), undefined, "the flow cookie is cleared");
    return new URLSearchParams(location?.hash.slice(1));
  }

  async function signIn(who: { username: string; password: string }) {
    const { jar, authorizationUrl } = await start();
    const fragment = await callback(
      jar,
      await providerLogin(authorizationUrl, who.username, who.password),
    );
    const code = fragment.get("sso_code");
    assert.ok(code, `a one-time code, not ${fragment}`);
    const notice = fragment.get("sso_notice") ?? undefined;
    return { code, notice, ...(await rest(0).ok("POST", "/v1/auth/oidc/exchange", { code })) };
  }

  /**
   * A link asked for with `accessToken` on `gateway`, through the provider's login page as
   * `who`: the fragment the gateway sends the browser back with.
   */
  async function link(
    gateway: string,
    accessToken: string,
    who: { username: string; password: string },
    beforeCallback: () => Promise<void> = async () => {},
  ): Promise<URLSearchParams> {
    const jar = new CookieJar();
    const res = await fetch(`${gateway}/v1/auth/oidc/link`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}` },
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 200, await res.clone().text());
    jar.take(res);
    assert.ok(jar.get(FLOW_COOKIE), "the answer sets the flow cookie");
    const { authorization_url } = (await res.json()) as { authorization_url: string };
    const redirect = await providerLogin(new URL(authorization_url), who.username, who.password);
    await beforeCallback();
    const back = await jar.get302(redirect);
    assert.equal(back.res.status, 302);
    assert.equal(back.location?.pathname, "/");
    return new URLSearchParams(back.location?.hash.slice(1));
  }

  /** A whole sign-on as `who` through `gateway` alone (start, provider, callback, exchange). */
  async function signInThrough(
    gateway: string,
    jar: CookieJar,
    kc?: CookieJar,
    who: { username: string; password: string } = users.verified,
  ) {
    const started = await jar.get302(`${gateway}/v1/auth/oidc/start`);
    const back = await jar.get302(
      await providerLogin(started.location as URL, who.username, who.password, kc),
    );
    const code = new URLSearchParams(back.location?.hash.slice(1)).get("sso_code");
    return new Rest(gateway).ok("POST", "/v1/auth/oidc/exchange", { code });
  }

  /** a flow that reached the provider's redirect, with what its cookie holds */
  async function atCallback(who: { username: string; password: string }) {
    const { jar, authorizationUrl } = await start();
    const redirect = await providerLogin(authorizationUrl, who.username, who.password);
    const sealer = new FlowSealer(new TextEncoder().encode(stack.env.JWT_SECRET));
    const flow = await sealer.open(jar.get(FLOW_COOKIE));
    return { jar, redirect, flow, sealer };
  }

  const refusal = (fragment: URLSearchParams) => ({
    code: fragment.get("sso_error"),
    message: fragment.get("sso_message") ?? "",
  });

  it("says it is on, and names the provider for the button", async () => {
    assert.deepEqual(await rest(0).ok("GET", "/v1/auth/oidc"), {
      enabled: true,
      provider_name: "Keycloak",
    });
  });

  it("never joins a sign-on to a password account by its email, which we never verified: a new account, and it says why", async () => {
    // whoever registers first with alice's address: we never checked that it is theirs
    const squatter = await rest(0).register(`pw-${users.verified.username}`, undefined, {
      email: users.verified.email.toUpperCase(),
    });
    const first = await signIn(users.verified);
    assert.notEqual(first.user.id, squatter.userId, "not the password account");
    assert.equal(first.user.email, users.verified.email, "the provider's verified email is kept");
    assert.match(first.notice ?? "", /never verified.*link this provider from there/);
    const me = await rest(1).ok("GET", "/v1/me", undefined, first.tokens.access_token);
    assert.equal(me.id, first.user.id);

    const again = await signIn(users.verified);
    assert.equal(again.user.id, first.user.id, "a later sign-in is the same user");
    assert.equal(again.notice, undefined, "said once, when the account is made");
    assert.notEqual(again.tokens.refresh_token, first.tokens.refresh_token, "a new session");

    // the password account cannot take the provider's account over by linking it either
    const login = await rest(1).ok("POST", "/v1/auth/login", {
      username: squatter.username,
      password: "password-123",
    });
    assert.equal(login.user.id, squatter.userId, "the password account stays as it was");
    const refused = await link(gw(0), login.tokens.access_token, users.verified);
    assert.equal(refused.get("sso_error"), "SSO_IDENTITY_LINKED");
    assert.match(refused.get("sso_message") ?? "", /another Switchboard account/);
    assert.equal((await signIn(users.verified)).user.id, first.user.id);

    // and the signed-in user chats: a socket with the sign-on's access token says welcome
    const socket = await ChatSocket.open(gw(1), first.tokens.access_token);
    await socket.close();
  });

  it("a password account's owner links the provider from inside their session: later sign-ins are that account, the password still works", async () => {
    // a cluster of its own: there, alice's account at the provider is linked to nobody yet
    own = await ChatStack.start({ gateways: 0, forwarders: 0 });
    const port = await freePort();
    const gateway = (await own.startGateway({ ...signOnEnv(port), PORT: String(port) })).url;
    const r = new Rest(gateway);
    const account = await r.register(`pw-${users.verified.username}`, undefined, {
      email: users.verified.email,
    });

    // a link asked for from a session that ends before the provider answers is refused
    const ended = await link(gateway, account.accessToken, users.verified, async () => {
      await r.ok("POST", "/v1/auth/logout", {}, account.accessToken);
    });
    assert.equal(ended.get("sso_error"), "SSO_FAILED");
    assert.match(ended.get("sso_message") ?? "", /session that asked for the link has ended/);

    const session = await r.ok("POST", "/v1/auth/login", {
      username: account.username,
      password: "password-123",
    });
    const linked = await link(gateway, session.tokens.access_token, users.verified);
    assert.equal(linked.get("sso_linked"), "Keycloak", `linked, not ${linked}`);
    assert.equal(linked.get("sso_code"), null, "a link signs nobody in");

    // a sign-on now is the password account
    const jar = new CookieJar();
    const started = await jar.get302(`${gateway}/v1/auth/oidc/start`);
    const redirect = await providerLogin(
      started.location as URL,
      users.verified.username,
      users.verified.password,
    );
    const back = await jar.get302(redirect);
    const code = new URLSearchParams(back.location?.hash.slice(1)).get("sso_code");
    assert.ok(code, `a one-time code, not ${back.location}`);
    const signedIn = await r.ok("POST", "/v1/auth/oidc/exchange", { code });
    assert.equal(signedIn.user.id, account.userId, "the provider signs in as the linked account");
    const again = await r.ok("POST", "/v1/auth/login", {
      username: account.username,
      password: "password-123",
    });
    assert.equal(again.user.id, account.userId, "the password still works");

    // without a token, no link
    const anonymous = await r.call("POST", "/v1/auth/oidc/link");
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, "UNAUTHENTICATED");
  });

  it("does not link an email the provider has not verified: a new account without it", async () => {
    const account = await rest(0).register(`pw-${users.unverified.username}`, undefined, {
      email: users.unverified.email,
    });
    const signedIn = await signIn(users.unverified);
    assert.notEqual(signedIn.user.id, account.userId, "not the password account");
    assert.equal(signedIn.user.username, users.unverified.username);
    assert.equal(signedIn.user.email, undefined, "an unverified email is not kept");
    const again = await signIn(users.unverified);
    assert.equal(again.user.id, signedIn.user.id, "the new account is linked");
    const login = await rest(0).call("POST", "/v1/auth/login", {
      username: signedIn.user.username,
      password: "any password at all",
    });
    assert.equal(login.body.error.code, "INVALID_CREDENTIALS", "no password opens it");
  });

  it("signing out of a sign-on's session ends the provider's session too (RP-initiated logout), and only then", async () => {
    // a browser: this jar for the gateways, `kc` for the provider
    const kc = new CookieJar();
    const { jar, authorizationUrl } = await start();
    const redirect = await providerLogin(
      authorizationUrl,
      users.verified.username,
      users.verified.password,
      kc,
    );
    const fragment = await callback(jar, redirect);
    assert.ok(jar.get(PROVIDER_SESSION_COOKIE), "the callback keeps the ID token in its cookie");
    const { tokens } = await rest(0).ok("POST", "/v1/auth/oidc/exchange", {
      code: fragment.get("sso_code"),
    });
    // the provider remembers the person: a new flow passes its login page without a form
    const remembered = await kc.get302((await start()).authorizationUrl);
    assert.equal(remembered.res.status, 302, "signed in at the provider");

    const logout = (gateway: string, token: string, cookies: CookieJar) =>
      fetch(`${gateway}/v1/auth/oidc/logout`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          cookie: cookies.header(),
          "content-type": "application/json",
        },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
        signal: AbortSignal.timeout(15_000),
      });
    // another session's logout leaves this session's cookie alone
    const other = await rest(0).register("pw-other-tab");
    const otherOut = await logout(gw(0), other.accessToken, jar);
    assert.deepEqual(await otherOut.json(), {});
    assert.equal(otherOut.headers.getSetCookie().length, 0);

    const res = await logout(gw(1), tokens.access_token, jar);
    assert.equal(res.status, 200);
    jar.take(res);
    assert.equal(jar.get(PROVIDER_SESSION_COOKIE), undefined, "the cookie is cleared");
    const { end_session_url } = (await res.json()) as { end_session_url?: string };
    assert.ok(end_session_url, "where to end the provider's session");
    const end = new URL(end_session_url);
    assert.equal(end.origin, new URL(oidcProvider().issuer).origin);
    assert.ok(end.searchParams.get("id_token_hint"), "the sign-on's ID token as the hint");
    const back = `${new URL(gw(1)).origin}/`;
    assert.equal(end.searchParams.get("post_logout_redirect_uri"), back);
    const me = await rest(0).call("GET", "/v1/me", undefined, tokens.access_token);
    assert.equal(me.body.error.code, "SESSION_REVOKED", "our session is over");

    // the browser goes there: the provider ends its session and sends it back to the web client
    const bye = await kc.get302(end);
    assert.equal(bye.res.status, 302, `the provider's logout answered ${bye.res.status}`);
    assert.equal(bye.location?.href, back);
    const again = await kc.get302((await start()).authorizationUrl);
    assert.equal(again.res.status, 200, "the provider asks for the password again");
    assert.match(await again.res.text(), /kc-form-login/);

    // a password session, or a gateway with provider logout off: our logout, nothing more
    const pw = await rest(0).register("pw-logout");
    assert.deepEqual(await rest(0).ok("POST", "/v1/auth/oidc/logout", {}, pw.accessToken), {});
    const port = await freePort();
    const off = (
      await stack.startGateway({
        ...signOnEnv(port),
        PORT: String(port),
        OIDC_PROVIDER_LOGOUT: "false",
      })
    ).url;
    const offJar = new CookieJar();
    const offSession = await signInThrough(off, offJar, kc);
    assert.equal(offJar.get(PROVIDER_SESSION_COOKIE), undefined, "no ID token kept");
    const offOut = await logout(off, offSession.tokens.access_token, offJar);
    assert.deepEqual(await offOut.json(), {});
    assert.equal(
      (await kc.get302((await start()).authorizationUrl)).res.status,
      302,
      "the provider's session goes on",
    );
  });

  it("the provider ending its session ends ours (back-channel logout): tokens refused, socket closed with 4005; a forged logout token ends nothing", async () => {
    // a gateway for the provider's client whose back-channel logout URL names its port
    const bc = oidcBackChannel();
    const gateway = (
      await stack.startGateway({
        ...signOnEnv(bc.port),
        OIDC_CLIENT_ID: bc.clientId,
        OIDC_CLIENT_SECRET: bc.clientSecret,
        PORT: String(bc.port),
      })
    ).url;
    const api = new Rest(gateway);
    const issuer = oidcProvider().issuer;
    // mallory signs in from two browsers: two sessions at the provider, one of ours each (not
    // alice: the browser suite signs her in at the provider meanwhile, and her sessions there
    // are left alone)
    const who = users.unverified;
    const signInAt = async () => {
      const jar = new CookieJar();
      const { tokens } = await signInThrough(gateway, jar, undefined, who);
      // the provider's session id (sid) is in the ID token the cookie keeps for the logout
      const sealer = new ProviderSessionSealer(new TextEncoder().encode(stack.env.JWT_SECRET));
      const held = await sealer.open(jar.get(PROVIDER_SESSION_COOKIE));
      assert.ok(held, "the callback keeps the ID token");
      const sid = decodeJwt(held.idToken).sid;
      assert.equal(typeof sid, "string", "the provider names its session in the ID token");
      return { tokens, sid: sid as string };
    };
    const one = await signInAt();
    const two = await signInAt();
    assert.notEqual(one.sid, two.sid);
    const socket = await ChatSocket.open(gateway, one.tokens.access_token);
    const me = (token: string) => api.call("GET", "/v1/me", undefined, token);
    const form = (token: string) =>
      fetch(`${gateway}/v1/auth/oidc/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: token }),
        signal: AbortSignal.timeout(15_000),
      });

    try {
      // a logout token with every claim right but signed by someone else's key: refused
      const { privateKey } = await generateKeyPair("RS256");
      const forged = await new SignJWT({ events: { [LOGOUT_EVENT]: {} }, sid: one.sid })
        .setProtectedHeader({ alg: "RS256", kid: "forged" })
        .setIssuer(issuer)
        .setAudience(bc.clientId)
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      const refused = await form(forged);
      assert.equal(refused.status, 400);
      const why = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(why.error.code, "BAD_REQUEST");
      assert.match(why.error.message, /logout token was refused/);
      assert.equal((await form("not-a-jwt")).status, 400);
      assert.equal((await me(one.tokens.access_token)).status, 200, "nothing was ended");

      // the provider's administrator ends mallory's first session there: the provider tells
      // the gateway, which ends the session of ours that it started, and only that one
      const admin = await providerAdmin(issuer, bc.adminClientId, bc.adminClientSecret);
      const ended = await admin("DELETE", `/sessions/${one.sid}`);
      assert.equal(ended.status, 204, `the provider ended the session: ${ended.status}`);
      assert.equal(
        await waitFor("the socket closed", () => socket.closeCode, { timeoutMs: 15_000 }),
        4005,
      );
      const refusedNow = await me(one.tokens.access_token);
      assert.equal(refusedNow.status, 401);
      assert.equal(refusedNow.body.error.code, "SESSION_REVOKED");
      const refresh = await api.call("POST", "/v1/auth/refresh", {
        refresh_token: one.tokens.refresh_token,
      });
      assert.equal(refresh.status, 401, "its refresh token is refused too");
      assert.equal((await me(two.tokens.access_token)).status, 200, "the other session goes on");

      // all of mallory's sessions at the provider end (logout of the user): the second one too
      const found = (await (
        await admin("GET", `/users?username=${who.username}&exact=true`)
      ).json()) as { id: string }[];
      const out = await admin("POST", `/users/${found[0]?.id}/logout`);
      assert.equal(out.status, 204);
      await waitFor(
        "the second session ended",
        async () => ((await me(two.tokens.access_token)).status === 401 ? true : undefined),
        { timeoutMs: 15_000 },
      );
    } finally {
      await socket.close();
    }
  });

  it("refuses an answer whose state is not the flow's (another browser's flow)", async () => {
    const mine = await start();
    const theirs = await start();
    const redirect = await providerLogin(
      theirs.authorizationUrl,
      users.verified.username,
      users.verified.password,
    );
    const { code, message } = refusal(await callback(mine.jar, redirect));
    assert.equal(code, "SSO_FAILED");
    assert.match(message, /state/);
  });

  it("refuses a code redeemed with another PKCE verifier (the provider says so)", async () => {
    const { jar, redirect, flow, sealer } = await atCallback(users.verified);
    jar.set(FLOW_COOKIE, await sealer.seal({ ...flow, verifier: `${flow.verifier.slice(1)}x` }));
    const { code, message } = refusal(await callback(jar, redirect));
    assert.equal(code, "SSO_FAILED");
    assert.match(message, /invalid_grant/);
    assert.match(message, /PKCE/i);
  });

  it("refuses an ID token whose nonce is not the flow's", async () => {
    const { jar, redirect, flow, sealer } = await atCallback(users.verified);
    jar.set(FLOW_COOKIE, await sealer.seal({ ...flow, nonce: "not-the-nonce-sent" }));
    const { code, message } = refusal(await callback(jar, redirect));
    assert.equal(code, "SSO_FAILED");
    assert.match(message, /nonce/);
  });

  it("refuses a callback without the flow cookie, one with a forged cookie, and the provider's error", async () => {
    const { redirect } = await atCallback(users.verified);
    const none = refusal(await callback(new CookieJar(), redirect));
    assert.equal(none.code, "SSO_FAILED");
    assert.match(none.message, /cookie is missing/);

    const forged = new CookieJar();
    forged.set(FLOW_COOKIE, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..x.y.z");
    assert.match(refusal(await callback(forged, redirect)).message, /not one this cluster made/);

    const { jar } = await start();
    const denied = new URL(`${gw(1)}/v1/auth/oidc/callback`);
    denied.search = new URLSearchParams({
      iss: oidcProvider().issuer,
      error: "access_denied",
      error_description: "the person said no",
      state: (
        await new FlowSealer(new TextEncoder().encode(stack.env.JWT_SECRET)).open(
          jar.get(FLOW_COOKIE),
        )
      ).state,
    }).toString();
    const { code, message } = refusal(await callback(jar, denied));
    assert.equal(code, "SSO_FAILED");
    assert.match(message, /access_denied \(the person said no\)/);
  });

  it("takes each one-time code once: a second use ends the session it started", async () => {
    const { code, tokens } = await signIn(users.verified);
    const reuse = await rest(1).call("POST", "/v1/auth/oidc/exchange", { code });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.error.code, "SSO_CODE_INVALID");
    const me = await rest(0).call("GET", "/v1/me", undefined, tokens.access_token);
    assert.equal(me.body.error.code, "SESSION_REVOKED");
    const unknown = await rest(0).call("POST", "/v1/auth/oidc/exchange", {
      code: "A".repeat(43),
    });
    assert.equal(unknown.body.error.code, "SSO_CODE_INVALID");
  });

  it("answers as the OpenAPI document says, at each step of a sign-on", async () => {
    const checker = await OpenApiChecker.fetch(gw(0));
    const check = async (method: string, template: string, res: Response) => {
      const text = await res.text();
      const body = text === "" ? undefined : JSON.parse(text);
      assert.equal(checker.problem(method, template, res.status, body), undefined, template);
    };
    const { jar, authorizationUrl } = await start();
    const redirect = await providerLogin(
      authorizationUrl,
      users.verified.username,
      users.verified.password,
    );
    const back = await jar.get302(redirect);
    await check("GET", "/v1/auth/oidc/callback", back.res);
    const code = new URLSearchParams(back.location?.hash.slice(1)).get("sso_code");
    const exchange = (body: unknown) =>
      fetch(`${gw(0)}/v1/auth/oidc/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    await check("POST", "/v1/auth/oidc/exchange", await exchange({ code }));
    await check("POST", "/v1/auth/oidc/exchange", await exchange({ code }));
    await check("POST", "/v1/auth/oidc/exchange", await exchange({ code: 1 }));
    await check(
      "GET",
      "/v1/auth/oidc/start",
      (await new CookieJar().get302(`${gw(1)}/v1/auth/oidc/start`)).res,
    );
    const linkAs = (token?: string) =>
      fetch(`${gw(0)}/v1/auth/oidc/link`, {
        method: "POST",
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(15_000),
      });
    const { tokens } = await signIn(users.verified);
    await check("POST", "/v1/auth/oidc/link", await linkAs(tokens.access_token));
    await check("POST", "/v1/auth/oidc/link", await linkAs());
    const logoutAs = (token?: string) =>
      fetch(`${gw(0)}/v1/auth/oidc/logout`, {
        method: "POST",
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(15_000),
      });
    await check("POST", "/v1/auth/oidc/logout", await logoutAs(tokens.access_token));
    await check("POST", "/v1/auth/oidc/logout", await logoutAs());
  });

  it("a gateway without a provider says sign-on is off, and its endpoints say why", async () => {
    plain = await ChatStack.start({ gateways: 1, forwarders: 0 });
    const r = new Rest(plain.gateways[0]?.url as string);
    assert.deepEqual(await r.ok("GET", "/v1/auth/oidc"), { enabled: false });
    const startOff = await r.call("GET", "/v1/auth/oidc/start");
    assert.equal(startOff.status, 404);
    assert.equal(startOff.body.error.code, "SSO_NOT_CONFIGURED");
    const exchangeOff = await r.call("POST", "/v1/auth/oidc/exchange", { code: "A".repeat(43) });
    assert.equal(exchangeOff.body.error.code, "SSO_NOT_CONFIGURED");
  });
});

/**
 * The provider's admin API for this realm, as its test service account (client credentials):
 * `call(method, path)` under /admin/realms/<realm>.
 */
async function providerAdmin(issuer: string, clientId: string, clientSecret: string) {
  const tokenRes = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(tokenRes.status, 200, `the admin's token: ${await tokenRes.clone().text()}`);
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const url = new URL(issuer);
  const base = `${url.origin}/admin${url.pathname}`;
  return (method: string, path: string) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${access_token}` },
      signal: AbortSignal.timeout(30_000),
    });
}
