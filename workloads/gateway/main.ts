// The gateway process: `node workloads/gateway/main.ts` (configuration from the environment).

import { connectBackends } from "../shared/backends/connect.ts";
import { EnvReader } from "../shared/config.ts";
import { onShutdownSignal } from "../shared/process.ts";
import { readSharedSettings } from "../shared/settings.ts";
import { createLogger } from "../shared/telemetry/log.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { startTracing } from "../shared/telemetry/tracing.ts";
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
const gateway = await createGateway(
  {
    ...backends,
    gatewayId: settings.gatewayId,
    topic: shared.topic,
    limits: settings.limits,
    log,
    metrics,
  },
  { tokens: settings.tokens, kdf: settings.kdf },
);
onShutdownSignal(log, settings.drainTimeoutMs + 5_000, async () => {
  await gateway.stop();
  await backends.close();
  await stopTracing();
});
await gateway.listen(settings.port, settings.host);
