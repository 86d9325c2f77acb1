// Serves the web client (workloads/web, built into workloads/web/dist by `npm run build:web`) at
// `/`: index.html revalidated on every load, the content-hashed assets cached for a year, and a
// Content-Security-Policy that lets the page load only its own script and style and talk only to
// this gateway (and the object store, when uploads are on: the page uploads to it and shows its
// images). Read once at start-up; without a build, `/` says how to make one.
import { readdir, readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

export const WEB_DIST = fileURLToPath(new URL("../web/dist/", import.meta.url));

/** The page's policy; `objectOrigin`: the object store's origin, which the page may reach too. */
export const contentSecurityPolicy = (objectOrigin?: string): string => {
  const store = objectOrigin === undefined ? "" : ` ${objectOrigin}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${store}`,
    `connect-src 'self'${store}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
};

export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Switchboard: web client not built</title>
<h1>The web client is not built</h1>
<p>This gateway found no <code>workloads/web/dist/index.html</code>. Run <code>npm run build:web</code>
(<code>npm start</code> runs it first, and the workloads image builds it), then restart the gateway.</p>
<p>The REST API is at <a href="/docs">/docs</a>; the WebSocket endpoint is <code>/v1/ws</code>.</p></html>`;

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** Reads the built files, or undefined when there is no build. */
async function readBuild(dir: string): Promise<Map<string, Asset> | undefined> {
  const index = await readFile(`${dir}index.html`).catch(() => undefined);
  if (index === undefined) return undefined;
  const files = new Map<string, Asset>([
    ["index.html", { body: index, type: TYPES[".html"] as string }],
  ]);
  for (const name of await readdir(`${dir}assets`).catch(() => [])) {
    const type = TYPES[extname(name)];
    if (type !== undefined)
      files.set(`assets/${name}`, { body: await readFile(`${dir}assets/${name}`), type });
  }
  return files;
}

export async function webRoutes(
  app: FastifyInstance,
  dir = WEB_DIST,
  objectOrigin?: string,
): Promise<void> {
  const files = await readBuild(dir);
  const csp = contentSecurityPolicy(objectOrigin);
  const page = files?.get("index.html");
  app.get("/", { schema: { hide: true } }, async (_req, reply) => {
    reply.header("content-security-policy", csp).header("x-content-type-options", "nosniff");
    if (page === undefined) {
      return reply
        .status(503)
        .header("cache-control", "no-store")
        .type("text/html; charset=utf-8")
        .send(NOT_BUILT);
    }
    return reply.header("cache-control", "no-cache").type(page.type).send(page.body);
  });
  app.get<{ Params: { name: string } }>(
    "/assets/:name",
    { schema: { hide: true } },
    async (req, reply) => {
      const asset = files?.get(`assets/${req.params.name}`);
      if (asset === undefined) {
        return reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such asset" } });
      }
      return reply
        .header("cache-control", "public, max-age=31536000, immutable")
        .header("x-content-type-options", "nosniff")
        .type(asset.type)
        .send(asset.body);
    },
  );
}
