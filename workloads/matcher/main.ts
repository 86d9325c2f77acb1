// The matcher process: `node workloads/matcher/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal, probeServer } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
import { Readiness } from "../shared/readiness.ts";
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
const readiness = new Readiness(
  [
    {
      name: "matcher",
      check: async () => {
        if (!matcher.ready) throw new Error("not started");
      },
    },
    { name: "redis", check: () => backends.matchQueue.ping() },
  ],
  { gauge: metrics.readinessCheck, onChange: (check, s) => log.info({ check, ...s }, "readiness") },
);
const probes = probeServer(metrics, () => readiness.report());
onShutdownSignal(log, settings.leaseMs + 10_000, async () => {
  readiness.stop();
  await matcher.stop();
  probes.close();
  await backends.close();
  await stopTracing();
});
matcher.start();
readiness.start();
probes.listen(port, host, () => log.info({ port, workerId: settings.workerId }, "matcher started"));
