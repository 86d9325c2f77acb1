// The notifier process: `node workloads/notifier/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal, probeServer } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
import { Readiness } from "../shared/readiness.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { readNotifierSettings } from "./config.ts";
import { Notifier } from "./notifier.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "notifier");
const { port, host, groupId, instanceId } = readNotifierSettings(env, shared.cluster);
env.done();

const log = createLogger("notifier", shared.logLevel);
const metrics = createMetrics();
const stopTracing = startTracing({
  serviceName: "switchboard-notifier",
  otlpEndpoint: shared.otlpEndpoint,
  sampleRatio: shared.traceSampleRatio,
});
const backends = await connectBackends(shared, "notifier", { log, metrics });
const notifier = new Notifier({
  ...backends,
  topic: shared.topic,
  groupId,
  ...(instanceId !== undefined && { instanceId }),
  log,
  metrics,
});
const readiness = new Readiness(
  [
    { name: "kafka", check: () => backends.bus.ping() },
    { name: "cassandra", check: () => backends.store.ping() },
    { name: "consumer-group", check: () => notifier.groupCheck() },
  ],
  { gauge: metrics.readinessCheck, onChange: (check, s) => log.info({ check, ...s }, "readiness") },
);
const probes = probeServer(metrics, () => readiness.report());
onShutdownSignal(log, 30_000, async () => {
  readiness.stop();
  await notifier.stop();
  probes.close();
  await backends.close();
  await stopTracing();
});
readiness.start();
probes.listen(port, host, () => log.info({ port, groupId, instanceId }, "probes listening"));
// joins the group, waiting (not exiting) for a topic or a Kafka that is not there yet
await notifier.start();
log.info({ groupId, instanceId }, "notifier started");
