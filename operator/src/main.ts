// The operator process: `node operator/src/main.ts` (KUBECONFIG or in-cluster credentials;
// settings from the environment, see runtime/config.ts).
import { EnvReader } from "#contract/env";
import { onShutdownSignal } from "#contract/process";
import { createLogger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { readOperatorSettings } from "./runtime/config.ts";
import { Operator } from "./runtime/operator.ts";

const env = new EnvReader(process.env);
const settings = readOperatorSettings(env);
env.done();

const log = createLogger("switchboard-operator", settings.logLevel);
const stopTracing = startTracing({
  serviceName: "switchboard-operator",
  otlpEndpoint: settings.otlpEndpoint,
});
const operator = new Operator({
  settings,
  log,
  // losing the Lease does not end the process: it stands by and campaigns again
  onFatal: () => {
    log.error("the operator cannot go on: exiting so the Pod restarts");
    process.exit(1);
  },
});
onShutdownSignal(log, settings.shutdownTimeoutMs, async () => {
  await operator.stop();
  await stopTracing();
});
await operator.start();
