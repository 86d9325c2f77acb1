// The matcher process: `node workloads/matcher/main.ts` (configuration from the environment).

import { connectBackends } from "../shared/backends/connect.ts";
import { EnvReader } from "../shared/config.ts";
import { onShutdownSignal, probeServer } from "../shared/process.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createLogger } from "../shared/telemetry/log.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { startTracing } from "../shared/telemetry/tracing.ts";
import { readMatcherSettings } from "./config.ts";
import { Matcher } from "./matcher.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "matcher");
const settings = readMatcherSettings(env);
const port = env.int("PORT", 8082, { min: 0, max: 65535 });
const host = env.string("HOST", "0.0.0.0");
env.done();

const log = createLogger("matcher", shared.logLevel);
const metrics = createMetrics();
const stopTracing = startTracing({
  serviceName: "switchboard-matcher",
  otlpEndpoint: shared.otlpEndpoint,
  sampleRatio: shared.traceSampleRatio,
});
const backends = await connectBackends(shared, "matcher");
const matcher = new Matcher({
  queue: backends.matchQueue,
  store: backends.store,
  bus: backends.bus,
  topic: shared.topic,
  settings,
  log,
  metrics,
});
const probes = probeServer(metrics, () => matcher.ready);
onShutdownSignal(log, settings.leaseMs + 10_000, async () => {
  await matcher.stop();
  probes.close();
  await backends.close();
  await stopTracing();
});
matcher.start();
probes.listen(port, host, () => log.info({ port, workerId: settings.workerId }, "matcher started"));
