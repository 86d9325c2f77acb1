// The forwarder process: `node workloads/forwarder/main.ts` (configuration from the environment).

import { connectBackends } from "../shared/backends/connect.ts";
import { EnvReader } from "../shared/config.ts";
import { onShutdownSignal, probeServer } from "../shared/process.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createLogger } from "../shared/telemetry/log.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { startTracing } from "../shared/telemetry/tracing.ts";
import { Forwarder } from "./forwarder.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "forwarder");
const port = env.int("PORT", 8081, { min: 0, max: 65535 });
const host = env.string("HOST", "0.0.0.0");
const groupId = env.string("FORWARDER_GROUP_ID", `${shared.cluster}.forwarder`);
// the Pod name (downward API): a forwarder restarted in its Pod takes its partitions back at once
const instanceId = env.optional("FORWARDER_INSTANCE_ID");
env.done();

const log = createLogger("forwarder", shared.logLevel);
const metrics = createMetrics();
const stopTracing = startTracing({
  serviceName: "switchboard-forwarder",
  otlpEndpoint: shared.otlpEndpoint,
  sampleRatio: shared.traceSampleRatio,
});
const backends = await connectBackends(shared, "forwarder");
const forwarder = new Forwarder({
  ...backends,
  topic: shared.topic,
  groupId,
  ...(instanceId !== undefined && { instanceId }),
  log,
  metrics,
});
const probes = probeServer(metrics, () => forwarder.ready);
onShutdownSignal(log, 30_000, async () => {
  await forwarder.stop();
  probes.close();
  await backends.close();
  await stopTracing();
});
await forwarder.start();
probes.listen(port, host, () => log.info({ port, groupId, instanceId }, "forwarder started"));
