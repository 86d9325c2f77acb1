// The process of a consumer-group member — the forwarder, the notifier: its settings from the
// environment, logs, metrics and traces, the backends, probes whose readiness includes the
// member's group, and a graceful stop on SIGTERM. It joins the group last, waiting (not
// exiting) for a topic or a Kafka that is not there yet.
import { EnvReader } from "#contract/env";
import { onShutdownSignal, probeServer } from "#contract/process";
import { createLogger, type Logger } from "#contract/telemetry/log";
import { startTracing } from "#contract/telemetry/tracing";
import { type Backends, connectBackends } from "./backends/connect.ts";
import { Readiness, type ReadinessCheck } from "./readiness.ts";
import { readSharedSettings } from "./settings.ts";
import { createMetrics, type Metrics } from "./telemetry/metrics.ts";

export interface GroupMember {
  /** joins the group, waiting until it can or stop() is called */
  start(): Promise<void>;
  /** finishes (or gives up, uncommitted) the work in flight and leaves the group */
  stop(): Promise<void>;
  /** the consumer group check of /readyz */
  groupCheck(): Promise<string>;
}

export interface MemberDeps extends Backends {
  readonly topic: string;
  readonly groupId: string;
  readonly instanceId?: string;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export async function runGroupMember(spec: {
  readonly service: "forwarder" | "notifier";
  readonly readSettings: (
    env: EnvReader,
    cluster: string,
  ) => {
    readonly port: number;
    readonly host: string;
    readonly groupId: string;
    readonly instanceId: string | undefined;
  };
  readonly create: (deps: MemberDeps) => GroupMember;
  /** checks of /readyz between Kafka's and the group's (the backends its work cannot do without) */
  readonly checks?: (backends: Backends) => readonly ReadinessCheck[];
}): Promise<void> {
  const { service } = spec;
  const env = new EnvReader(process.env);
  const shared = readSharedSettings(env, service);
  const { port, host, groupId, instanceId } = spec.readSettings(env, shared.cluster);
  env.done();

  const log = createLogger(service, shared.logLevel);
  const metrics = createMetrics();
  const stopTracing = startTracing({
    serviceName: `switchboard-${service}`,
    otlpEndpoint: shared.otlpEndpoint,
    sampleRatio: shared.traceSampleRatio,
  });
  const backends = await connectBackends(shared, service, { log, metrics });
  const member = spec.create({
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
      ...(spec.checks?.(backends) ?? []),
      { name: "consumer-group", check: () => member.groupCheck() },
    ],
    {
      gauge: metrics.readinessCheck,
      onChange: (check, s) => log.info({ check, ...s }, "readiness"),
    },
  );
  const probes = probeServer(metrics, () => readiness.report());
  onShutdownSignal(log, 30_000, async () => {
    readiness.stop();
    await member.stop();
    probes.close();
    await backends.close();
    await stopTracing();
  });
  readiness.start();
  probes.listen(port, host, () => log.info({ port, groupId, instanceId }, "probes listening"));
  await member.start();
  log.info({ groupId, instanceId }, `${service} started`);
}
