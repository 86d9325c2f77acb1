// The matcher process: `node workloads/matcher/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal, probeServer } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
import { readListen, readSharedSettings } from "../shared/settings.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { readMatcherSettings } from "./config.ts";
import { Matcher } from "./matcher.ts";

const env = new EnvReader(process.env);
const shared = readSharedSettings(env, "matcher");
const settings = readMatcherSettings(env);
const { port, host } = readListen(env, "matcher");
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
