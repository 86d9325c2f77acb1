// The browser suite (e2e/web/browser-suite.ts) against the embedded default: one in-process
// gateway on the memory backends, serving a build of the web client made for this run, with the
// memory object store serving uploads.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { browserSuite } from "../../e2e/web/browser-suite.ts";
import { startCluster } from "../embedded/cluster.ts";
import { DEFAULT_UPLOAD_LIMITS } from "../gateway/config.ts";
import { MemoryObjectStore } from "../shared/backends/object-store.memory.ts";

browserSuite({
  name: "embedded",
  async start(serverKey) {
    const webDir = `${await mkdtemp(`${tmpdir()}/web-dist-`)}/`;
    const build = spawnSync(process.execPath, ["workloads/web/build.ts", "--out", webDir], {
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(build.status, 0, build.stderr);
    const objects = await MemoryObjectStore.start();
    const cluster = await startCluster({
      webDir,
      gateways: 2,
      serverKeys: [serverKey],
      uploads: { objects, cluster: "embedded", limits: DEFAULT_UPLOAD_LIMITS },
    });
    return {
      urls: cluster.urls,
      async stop() {
        await cluster.stop();
        await objects.close();
        await rm(webDir, { recursive: true, force: true });
      },
    };
  },
});
