// An in-process Switchboard: N gateways, M forwarders, K matchers and a notifier sharing one set of
// backends. The embedded default runs one of each on the memory backends; unit tests run several
// to prove cross-gateway routing without any server.
import { randomBytes } from "node:crypto";
import { createLogger, type Logger } from "#contract/telemetry/log";
import { Forwarder } from "../forwarder/forwarder.ts";
import { createGateway, type Gateway } from "../gateway/app.ts";
import type { SignOnSettings } from "../gateway/auth/sign-on.ts";
import { DEFAULT_LIMITS } from "../gateway/config.ts";
import type { GatewayLimits } from "../gateway/core/context.ts";
import type { UploadConfig } from "../gateway/core/uploads.ts";
import { matcherDefaults } from "../matcher/config.ts";
import { Matcher, type MatcherSettings } from "../matcher/matcher.ts";
import { Notifier } from "../notifier/notifier.ts";
import { type Backends, memoryBackends } from "../shared/backends/connect.ts";
import { createMetrics, type Metrics } from "../shared/telemetry/metrics.ts";

export interface ClusterOptions {
  readonly gateways?: number;
  readonly forwarders?: number;
  readonly matchers?: number;
  /** notifiers (default 1) */
  readonly notifiers?: number;
  readonly matcher?: Partial<Omit<MatcherSettings, "workerId">>;
  readonly backends?: Backends;
  readonly limits?: Partial<GatewayLimits>;
  /** the server API's keys (none: the server API is off) */
  readonly serverKeys?: readonly string[];
  readonly log?: Logger;
  readonly metrics?: Metrics;
  readonly topic?: string;
  readonly port?: number;
  readonly host?: string;
  /** the built web client the gateways serve at / (default: workloads/web/dist) */
  readonly webDir?: string;
  /** single sign-on (none: off) */
  readonly signOn?: SignOnSettings;
  /** the object store and upload limits (none: uploads are off) */
  readonly uploads?: UploadConfig;
}

export interface InProcessCluster {
  readonly backends: Backends;
  readonly gateways: Gateway[];
  readonly forwarders: Forwarder[];
  readonly matchers: Matcher[];
  readonly notifiers: Notifier[];
  readonly urls: string[];
  stop(): Promise<void>;
}

/** Test-speed password hashing; the processes use the configured (memory-hard) parameters. */
export const FAST_KDF = { memory: 1024, passes: 1, parallelism: 1 } as const;

export async function startCluster(o: ClusterOptions = {}): Promise<InProcessCluster> {
  const backends = o.backends ?? memoryBackends();
  const log = o.log ?? createLogger("switchboard", process.env.LOG_LEVEL ?? "silent");
  const metrics = o.metrics ?? createMetrics({ defaultMetrics: false });
  const topic = o.topic ?? "switchboard.messages";
  const secret = randomBytes(32);
  const forwarders: Forwarder[] = [];
  for (let i = 0; i < (o.forwarders ?? 1); i++) {
    const f = new Forwarder({ ...backends, topic, groupId: `${topic}.forwarder`, log, metrics });
    await f.start();
    forwarders.push(f);
  }
  const matchers: Matcher[] = [];
  for (let i = 0; i < (o.matchers ?? 1); i++) {
    const m = new Matcher({
      queue: backends.matchQueue,
      store: backends.store,
      bus: backends.bus,
      topic,
      settings: { ...matcherDefaults, ...o.matcher, workerId: `matcher-${i}` },
      log,
      metrics,
    });
    m.start();
    matchers.push(m);
  }
  const notifiers: Notifier[] = [];
  for (let i = 0; i < (o.notifiers ?? 1); i++) {
    const n = new Notifier({ ...backends, topic, groupId: `${topic}.notifier`, log, metrics });
    await n.start();
    notifiers.push(n);
  }
  const gateways: Gateway[] = [];
  const urls: string[] = [];
  for (let i = 0; i < (o.gateways ?? 1); i++) {
    const g = await createGateway(
      {
        ...backends,
        gatewayId: `gw-${i}-${randomBytes(3).toString("hex")}`,
        topic,
        limits: { ...DEFAULT_LIMITS, ...o.limits },
        log,
        metrics,
        uploads: o.uploads,
      },
      {
        tokens: { secret, issuer: "switchboard", accessTtlSeconds: 900, refreshTtlSeconds: 86_400 },
        kdf: FAST_KDF,
        ...(o.serverKeys === undefined ? {} : { serverKeys: o.serverKeys }),
        ...(o.webDir === undefined ? {} : { webDir: o.webDir }),
        ...(o.signOn === undefined ? {} : { signOn: o.signOn }),
      },
    );
    urls.push(await g.listen(o.port ?? 0, o.host ?? "127.0.0.1"));
    gateways.push(g);
  }
  return {
    backends,
    gateways,
    forwarders,
    matchers,
    notifiers,
    urls,
    async stop() {
      for (const g of gateways) await g.stop();
      for (const m of matchers) await m.stop();
      for (const n of notifiers) await n.stop();
      for (const f of forwarders) await f.stop();
      if (o.backends === undefined) await backends.close();
    },
  };
}
