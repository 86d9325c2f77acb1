// The gateway process: `node workloads/gateway/main.ts` (configuration from the environment).

import { EnvReader } from "#contract/env";
import { onShutdownSignal } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { connectBackends } from "../shared/backends/connect.ts";
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
const backends = await connectBackends(shared, "gateway");
const gateway = await createGateway(
  {
    ...backends,
    gatewayId: settings.gatewayId,
    topic: shared.topic,
    limits: settings.limits,
    log,
    metrics: createMetrics(),
  },
  { tokens: settings.tokens, kdf: settings.kdf },
);
onShutdownSignal(log, settings.drainTimeoutMs + 5_000, async () => {
  await gateway.stop();
  await backends.close();
  await stopTracing();
});
await gateway.listen(settings.port, settings.host);
