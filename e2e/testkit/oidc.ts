// Single sign-on without a browser: a cookie jar, and a person at the provider's own login page
// (Keycloak's form, filled and posted as a browser would), for the integration suites.
import { oidcProvider } from "./stack.ts";

/** a provider on a busy machine answers its first requests slowly */
const TIMEOUT_MS = 30_000;

/** Cookies by name, from Set-Cookie headers (paths and domains ignored: one site per jar). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  /** A GET that does not follow redirects, sending and keeping this jar's cookies. */
  async get302(url: string | URL): Promise<{ res: Response; location: URL | undefined }> {
    const res = await fetch(url, {
      redirect: "manual",
      headers: { cookie: this.header() },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    this.take(res);
    const location = res.headers.get("location");
    return { res, location: location === null ? undefined : new URL(location, url) };
  }
}

/**
 * Signs in at the provider's login page: opens `authorizationUrl`, fills the login form with the
 * username and password and submits it. Resolves where the provider then sends the browser (the
 * redirect URL with code and state).
 */
export async function providerLogin(
  authorizationUrl: URL,
  username: string,
  password: string,
  jar = new CookieJar(),
): Promise<URL> {
  const page = await jar.get302(authorizationUrl);
  if (page.res.status !== 200) {
    throw new Error(`the provider's login page answered ${page.res.status}`);
  }
  const html = await page.res.text();
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/s.exec(html)?.[1];
  if (action === undefined) throw new Error("no login form on the provider's page");
  const res = await fetch(new URL(action.replaceAll("&amp;", "&"), authorizationUrl), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ username, password, credentialId: "" }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  jar.take(res);
  const location = res.headers.get("location");
  if (res.status !== 302 || location === null) {
    throw new Error(`the provider did not accept the login: ${res.status}`);
  }
  return new URL(location);
}

/** The gateway settings for the stack's provider, with this gateway's callback URL. */
export function signOnEnv(gatewayPort: number): Record<string, string> {
  const p = oidcProvider();
  return {
    OIDC_ISSUER_URL: p.issuer,
    OIDC_CLIENT_ID: p.clientId,
    OIDC_CLIENT_SECRET: p.clientSecret,
    OIDC_REDIRECT_URL: `http://127.0.0.1:${gatewayPort}/v1/auth/oidc/callback`,
    OIDC_PROVIDER_NAME: "Keycloak",
  };
}
