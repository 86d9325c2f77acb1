// The browser suite (browser-suite.ts) against the real stack: two gateway processes, a
// forwarder, a matcher and a notifier on Kafka, Cassandra and Redis, serving the web client built by
// `npm run build:web` (into workloads/web/dist, where every gateway process looks).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ChatStack } from "../testkit/index.ts";
import { browserSuite } from "./browser-suite.ts";

browserSuite({
  name: "stack",
  async start(serverKey) {
    const build = spawnSync(process.execPath, ["workloads/web/build.ts"], {
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(build.status, 0, build.stderr);
    const stack = await ChatStack.start({
      gateways: 2,
      forwarders: 1,
      matchers: 1,
      notifiers: 1,
      env: { SERVER_API_KEYS: serverKey },
    });
    return { urls: stack.gateways.map((g) => g.url), stop: () => stack.stop() };
  },
});
