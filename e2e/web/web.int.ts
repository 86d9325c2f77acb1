// The browser suite (browser-suite.ts) against the real stack: two gateway processes, a
// forwarder, a matcher and a notifier on Kafka, Cassandra and Redis, serving the web client
// built by `npm run build:web` (into workloads/web/dist, where every gateway process looks),
// with single sign-on through the stack's OpenID Connect provider, uploading to the object
// store hack/stack starts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ChatStack, freePort, objectStore, oidcUsers, signOnEnv } from "../testkit/index.ts";
import { browserSuite } from "./browser-suite.ts";

const person = oidcUsers().verified;

browserSuite({
  name: "stack",
  // the stack's Keycloak (hack/stack): its own login page
  signOn: { providerName: "Keycloak", username: person.username, password: person.password },
  async start(serverKey) {
    const build = spawnSync(process.execPath, ["workloads/web/build.ts"], {
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(build.status, 0, build.stderr);
    const stack = await ChatStack.start({
      gateways: 0,
      forwarders: 1,
      matchers: 1,
      notifiers: 1,
      env: {
        SERVER_API_KEYS: serverKey,
        OBJECT_STORE_ENDPOINT: objectStore().endpoint,
        OBJECT_STORE_BUCKET: objectStore().bucket,
        OBJECT_STORE_REGION: objectStore().region,
        OBJECT_STORE_ACCESS_KEY_ID: objectStore().accessKeyId,
        OBJECT_STORE_SECRET_ACCESS_KEY: objectStore().secretAccessKey,
      },
    });
    // two gateways, each the provider's way back to itself
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      await stack.startGateway({ ...signOnEnv(port), PORT: String(port) });
    }
    return { urls: stack.gateways.map((g) => g.url), stop: () => stack.stop() };
  },
});
