import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { after, describe, it } from "node:test";
import Fastify from "fastify";
import { CONTENT_SECURITY_POLICY, webRoutes } from "./web.ts";

describe("the web client at /", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const serve = async (files: Record<string, string>) => {
    const dir = `${await mkdtemp(`${tmpdir()}/web-`)}/`;
    dirs.push(dir);
    await mkdir(`${dir}assets`);
    for (const [name, body] of Object.entries(files)) await writeFile(dir + name, body);
    const app = Fastify();
    await webRoutes(app, dir);
    return app;
  };

  it("serves the built page revalidated, with its CSP, and hashed assets cached for a year", async () => {
    const app = await serve({ "index.html": "<p>chat</p>", "assets/main-AB12.js": "run()" });
    const page = await app.inject({ url: "/" });
    assert.equal(page.statusCode, 200);
    assert.equal(page.body, "<p>chat</p>");
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.equal(page.headers["cache-control"], "no-cache");
    assert.equal(page.headers["content-security-policy"], CONTENT_SECURITY_POLICY);
    const js = await app.inject({ url: "/assets/main-AB12.js" });
    assert.equal(js.body, "run()");
    assert.match(String(js.headers["content-type"]), /^text\/javascript/);
    assert.equal(js.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal((await app.inject({ url: "/assets/other.js" })).statusCode, 404);
    assert.equal((await app.inject({ url: "/assets/..%2Findex.html" })).statusCode, 404);
  });

  it("says at / how to build the client when there is no build", async () => {
    const app = await serve({});
    const page = await app.inject({ url: "/" });
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /The web client is not built/);
    assert.match(page.body, /npm run build:web/);
  });
});
