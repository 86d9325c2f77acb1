// The gateway process: `node workloads/gateway/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
import { S3ObjectStore } from "../shared/backends/object-store.s3.ts";
import { degradedWhile, Readiness } from "../shared/readiness.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { createGateway } from "./app.ts";
import { readGatewaySettings } from "./config.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "gateway");
const settings = readGatewaySettings(env, { embedded: shared.backends.kind === "memory" });
env.done();

const log = createLogger("gateway", shared.logLevel);
const stopTracing = startTracing({
  serviceName: "switchboard-gateway",
  otlpEndpoint: shared.otlpEndpoint,
  sampleRatio: shared.traceSampleRatio,
});
const metrics = createMetrics();
const backends = await connectBackends(shared, "gateway", { log, metrics });
// ready only while a message can go end to end: produced to Kafka, stored by way of the
// forwarders in Cassandra (also read here for history), routed, and delivered back to this
// gateway through its subscription. Without Redis it still can, degraded (decision 0019): the
// forwarders send to every gateway through the Kafka deliveries topic, which this gateway reads.
const readiness = new Readiness(
  [
    { name: "delivery-subscription", check: () => backends.checkDelivery() },
    { name: "kafka", check: () => backends.bus.ping() },
    { name: "cassandra", check: () => backends.store.ping() },
    {
      name: "redis",
      check: degradedWhile(
        () => backends.registry.ping(),
        () => backends.checkDelivery(),
        "deliveries reach every gateway through Kafka, rate limits are per process, matching is unavailable",
      ),
    },
  ],
  { gauge: metrics.readinessCheck, onChange: (check, s) => log.info({ check, ...s }, "readiness") },
);
const objects =
  settings.objectStore === undefined ? undefined : new S3ObjectStore(settings.objectStore);
const gateway = await createGateway(
  {
    ...backends,
    gatewayId: settings.gatewayId,
    topic: shared.topic,
    limits: settings.limits,
    log,
    metrics,
    uploads:
      objects === undefined
        ? undefined
        : { objects, cluster: shared.cluster, limits: settings.uploadLimits },
  },
  {
    tokens: settings.tokens,
    kdf: settings.kdf,
    serverKeys: settings.serverApiKeys,
    readiness: () => readiness.report(),
    ...(settings.signOn === undefined ? {} : { signOn: settings.signOn }),
  },
);
onShutdownSignal(log, settings.drainTimeoutMs + 5_000, async () => {
  readiness.stop();
  await gateway.stop();
  await objects?.close();
  await backends.close();
  await stopTracing();
});
readiness.start();
await gateway.listen(settings.port, settings.host);
if (objects === undefined) {
  log.info("uploads off: no OBJECT_STORE_ENDPOINT");
} else {
  // reported, not waited on: chat works without the store, and the operator's ObjectStoreReady
  // condition says whether the bucket is there
  objects.checkBucket().then(
    () => log.info({ origin: objects.origin }, "uploads on: the object store's bucket answers"),
    (err: unknown) =>
      log.warn({ err }, "uploads on, but the object store's bucket does not answer"),
  );
}
log.info(
  { serverApi: settings.serverApiKeys.length > 0, serverKeys: settings.serverApiKeys.length },
  settings.serverApiKeys.length > 0
    ? "server API on /v1/server/... (keys from SERVER_API_KEYS)"
    : "server API off: no SERVER_API_KEYS",
);
log.info(
  { signOn: settings.signOn?.issuer.href ?? false },
  settings.signOn === undefined
    ? "single sign-on off: no OIDC_ISSUER_URL"
    : `single sign-on with ${settings.signOn.issuer.href}`,
);
