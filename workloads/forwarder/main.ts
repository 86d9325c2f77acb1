// The forwarder process: `node workloads/forwarder/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal, probeServer } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
import { Readiness } from "../shared/readiness.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { readForwarderSettings } from "./config.ts";
import { Forwarder } from "./forwarder.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "forwarder");
const { port, host, groupId, instanceId } = readForwarderSettings(env, shared.cluster);
env.done();

const log = createLogger("forwarder", shared.logLevel);
const metrics = createMetrics();
const stopTracing = startTracing({
  serviceName: "switchboard-forwarder",
  otlpEndpoint: shared.otlpEndpoint,
  sampleRatio: shared.traceSampleRatio,
});
const backends = await connectBackends(shared, "forwarder", { log, metrics });
const forwarder = new Forwarder({
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
    { name: "consumer-group", check: () => forwarder.groupCheck() },
  ],
  { gauge: metrics.readinessCheck, onChange: (check, s) => log.info({ check, ...s }, "readiness") },
);
const probes = probeServer(metrics, () => readiness.report());
onShutdownSignal(log, 30_000, async () => {
  readiness.stop();
  await forwarder.stop();
  probes.close();
  await backends.close();
  await stopTracing();
});
readiness.start();
probes.listen(port, host, () => log.info({ port, groupId, instanceId }, "probes listening"));
// joins the group, waiting (not exiting) for a topic or a Kafka that is not there yet
await forwarder.start();
log.info({ groupId, instanceId }, "forwarder started");
