// The embedded default (`npm start`): gateway, forwarder, matcher and notifier in one process,
// on in-memory backends, on one port. Nothing to install; nothing survives a restart. Uploads go
// to an in-memory object store on a port of its own on the same host, or to the S3-compatible
// store OBJECT_STORE_ENDPOINT names.

import { randomBytes } from "node:crypto";
import { EnvReader } from "#contract/env";
import { onShutdownSignal } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { Forwarder } from "../forwarder/forwarder.ts";
import { createGateway } from "../gateway/app.ts";
import { readGatewaySettings } from "../gateway/config.ts";
import { readMatcherSettings } from "../matcher/config.ts";
import { Matcher } from "../matcher/matcher.ts";
import { Notifier } from "../notifier/notifier.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import { MemoryObjectStore } from "../shared/backends/object-store.memory.ts";
import { S3ObjectStore } from "../shared/backends/object-store.s3.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";

const env = new EnvReader(process.env);
const settings = readGatewaySettings(env, { embedded: true });
const matcherSettings = readMatcherSettings(env);
const otlpEndpoint = env.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
env.done();

const log = createLogger("switchboard");
// the server API is on here: with the keys from SERVER_API_KEYS, else with one made for this
// run (nothing else can know it, and it dies with the process), which the log then prints
const generatedKey =
  settings.serverApiKeys.length === 0 ? randomBytes(24).toString("base64url") : undefined;
const serverKeys = generatedKey === undefined ? settings.serverApiKeys : [generatedKey];
const metrics = createMetrics();
const stopTracing = startTracing({ serviceName: "switchboard-embedded", otlpEndpoint });
const backends = memoryBackends();
const topic = "switchboard.messages";
const objects =
  settings.objectStore === undefined
    ? await MemoryObjectStore.start({
        host: settings.host === "0.0.0.0" ? "127.0.0.1" : settings.host,
      })
    : new S3ObjectStore(settings.objectStore);
const forwarder = new Forwarder({
  ...backends,
  topic,
  groupId: "switchboard.forwarder",
  log: log.child({ component: "forwarder" }),
  metrics,
});
await forwarder.start();
const matcher = new Matcher({
  queue: backends.matchQueue,
  store: backends.store,
  bus: backends.bus,
  topic,
  settings: matcherSettings,
  log: log.child({ component: "matcher" }),
  metrics,
});
matcher.start();
const notifier = new Notifier({
  ...backends,
  topic,
  groupId: "switchboard.notifier",
  log: log.child({ component: "notifier" }),
  metrics,
});
await notifier.start();
const gateway = await createGateway(
  {
    ...backends,
    gatewayId: settings.gatewayId,
    topic,
    limits: settings.limits,
    log: log.child({ component: "gateway" }),
    metrics,
    uploads: { objects, cluster: "switchboard", limits: settings.uploadLimits },
  },
  {
    tokens: settings.tokens,
    kdf: settings.kdf,
    serverKeys,
    ...(settings.signOn === undefined ? {} : { signOn: settings.signOn }),
  },
);
onShutdownSignal(log, settings.drainTimeoutMs + 5_000, async () => {
  await gateway.stop();
  await matcher.stop();
  await notifier.stop();
  await forwarder.stop();
  await objects.close();
  await backends.close();
  await stopTracing();
});
const address = await gateway.listen(settings.port, settings.host);
log.info(
  {
    address,
    chat: `${address}/`,
    rest: `${address}/docs`,
    websocket: `${address.replace(/^http/, "ws")}/v1/ws`,
  },
  `Switchboard embedded default is up: open ${address}/ to chat (in-memory: nothing survives a restart)`,
);
log.info(
  {
    serverApi: `${address}/v1/server`,
    ...(generatedKey === undefined ? {} : { serverKey: generatedKey }),
  },
  generatedKey === undefined
    ? `server API on with the ${serverKeys.length} key(s) from SERVER_API_KEYS: send Authorization: Bearer <a key> (docs/server-api.md)`
    : "server API on with serverKey, made for this run (SERVER_API_KEYS sets your own): send Authorization: Bearer <serverKey> (docs/server-api.md)",
);
