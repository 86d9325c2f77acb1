// The operator process's parts wired together: leader election first; once leading, the watches
// feed the work queue, which runs the reconciler one key at a time per ChatCluster, with a
// periodic resync so drift in Kafka or Cassandra (which send no events) is corrected too.
// Losing the Lease pauses the queue (the running reconciles finish, no new one starts), keeps the
// watches' caches warm and campaigns again; leading again resumes with every cached key queued.
// stop() drains: no new reconciles, the running ones finish, watches stop, the Lease is released.
import type { Server } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { probeServer } from "#contract/process";
import { CassandraClients } from "../reconcile/cassandra.ts";
import { Reconciler } from "../reconcile/reconciler.ts";
import type { OperatorSettings } from "./config.ts";
import { KubeEventRecorder } from "./events.ts";
import { Kube } from "./kube.ts";
import { kubeLeaseStore, LeaderElector } from "./leader.ts";
import {
  createOperatorMetrics,
  type OperatorMetrics,
  recordConditions,
  SpanNames,
} from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import { Watches } from "./watches.ts";

export interface OperatorOptions {
  readonly settings: OperatorSettings;
  readonly log: Logger;
  /** default: KUBECONFIG, else in-cluster */
  readonly kubeConfig?: KubeConfig;
  /** told when leadership is lost; the operator itself stands by and campaigns again */
  readonly onLeadershipLost?: () => void;
  /** told when the operator cannot go on (its watches could not start); main exits non-zero */
  readonly onFatal?: () => void;
}

export class Operator {
  readonly metrics: OperatorMetrics;
  readonly #o: OperatorOptions;
  readonly #kube: Kube;
  readonly #cassandra: CassandraClients;
  readonly #queue: WorkQueue;
  readonly #watches: Watches;
  readonly #leader: LeaderElector;
  #server: Server | undefined;
  #resync: NodeJS.Timeout | undefined;
  #watchesStarted: Promise<boolean> | undefined;
  #synced = false;
  #stopping = false;

  constructor(o: OperatorOptions) {
    this.#o = o;
    const s = o.settings;
    const kc = o.kubeConfig ?? defaultKubeConfig();
    this.metrics = createOperatorMetrics();
    this.#kube = new Kube(kc, { requestTimeoutMs: s.kubeRequestTimeoutMs });
    this.#cassandra = new CassandraClients(s.cassandra);
    const reconciler = new Reconciler({
      kube: this.#kube,
      events: new KubeEventRecorder(this.#kube, o.log, s.identity),
      cassandra: this.#cassandra,
      kafkaTimeouts: s.kafka,
      log: o.log,
      now: () => new Date(),
      onConditions: (namespace, name, conditions) =>
        recordConditions(this.metrics, namespace, name, conditions),
    });
    const tracer = trace.getTracer("switchboard-operator");
    this.#queue = new WorkQueue({
      ...s.queue,
      process: (key) =>
        tracer.startActiveSpan(SpanNames.reconcile, async (span) => {
          span.setAttribute("switchboard.chatcluster", key);
          const end = this.metrics.duration.startTimer();
          const [namespace = "", name = ""] = key.split("/");
          try {
            const r = await reconciler.reconcile(namespace, name);
            this.metrics.reconciles.inc({ result: r.kind });
            if (r.kind === "error") {
              this.metrics.errors.inc({ step: r.step });
              span.setStatus({ code: SpanStatusCode.ERROR, message: r.message });
              o.log.warn(
                { key, step: r.step, failures: this.#queue.failures(key) + 1, message: r.message },
                "reconcile failed: backing off",
              );
            } else {
              o.log.debug({ key, result: r.kind }, "reconciled");
            }
            return r;
          } finally {
            end();
            span.end();
          }
        }),
      onDepth: (d) => this.metrics.queueDepth.set(d),
      onDropped: (key) => {
        this.metrics.queueDropped.inc();
        o.log.error({ key }, "work queue full: key dropped (the resync brings it back)");
      },
      onError: (key, err) => {
        this.metrics.reconciles.inc({ result: "error" });
        this.metrics.errors.inc({ step: "unexpected" });
        o.log.error({ key, err }, "reconcile threw");
      },
    });
    this.#watches = new Watches({
      kube: this.#kube,
      namespace: s.watchNamespace,
      log: o.log,
      enqueue: (key) => this.#queue.add(key),
      onRestart: (kind) => this.metrics.watchRestarts.inc({ kind }),
      maxRestartDelayMs: s.queue.maxDelayMs,
    });
    this.#leader = new LeaderElector(
      kubeLeaseStore(
        this.#kube.coordination,
        s.lease.namespace,
        s.lease.name,
        s.lease.retryPeriodMs * 2,
      ),
      {
        namespace: s.lease.namespace,
        name: s.lease.name,
        identity: s.identity,
        leaseDurationMs: s.lease.durationMs,
        renewDeadlineMs: s.lease.renewDeadlineMs,
        retryPeriodMs: s.lease.retryPeriodMs,
        onStarted: () => {
          this.metrics.leader.set(1);
          void this.#lead();
        },
        onStopped: () => {
          this.metrics.leader.set(0);
          clearInterval(this.#resync);
          this.#resync = undefined;
          void this.#queue.pause();
          o.onLeadershipLost?.();
        },
      },
      o.log,
    );
  }

  get leading(): boolean {
    return this.#leader.leading;
  }

  /** Alive: the process answers. Ready: a standby is ready; a leader once its caches synced. */
  get ready(): boolean {
    return !this.#stopping && (!this.#leader.leading || this.#synced);
  }

  /** Starts the probe/metrics server and the campaign for the Lease. */
  async start(): Promise<void> {
    const s = this.#o.settings;
    this.#server = probeServer(this.metrics, () => this.ready);
    await new Promise<void>((resolve) => this.#server?.listen(s.port, s.host, resolve));
    this.#leader.start();
    this.#o.log.info(
      { port: this.port, namespace: s.watchNamespace ?? "(all)", identity: s.identity },
      "operator started",
    );
  }

  get port(): number {
    const addr = this.#server?.address();
    return typeof addr === "object" && addr !== null ? addr.port : 0;
  }

  async #lead(): Promise<void> {
    this.#watchesStarted ??= this.#watches.start().then(
      () => true,
      (err: unknown) => {
        this.#o.log.error({ err }, "could not start the watches");
        this.#o.onFatal?.();
        return false;
      },
    );
    if (!(await this.#watchesStarted)) return;
    this.#synced = true;
    // leadership may have been lost again while the caches synced
    if (!this.#leader.leading || this.#stopping) return;
    this.#queue.resume();
    for (const key of this.#watches.keys()) this.#queue.add(key);
    clearInterval(this.#resync);
    this.#resync = setInterval(() => {
      for (const key of this.#watches.keys()) this.#queue.add(key);
    }, this.#o.settings.resyncMs);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#resync);
    await this.#queue.stop();
    await this.#watches.stop();
    await this.#leader.stop();
    this.metrics.leader.set(0);
    await this.#cassandra.close();
    await new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    );
  }
}

/**
 * KUBECONFIG, ~/.kube/config or the Pod's service account. With none of them the client falls
 * back to http://localhost:8080 and a standby would retry that Lease forever without a word:
 * stop at start-up with an error that says what is missing instead.
 */
function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (
    kc.currentContext === "loaded-context" &&
    cluster?.name === "cluster" &&
    cluster.server === "http://localhost:8080"
  ) {
    throw new Error(
      "no Kubernetes credentials: set KUBECONFIG, provide ~/.kube/config, or run in a Pod with a service account token",
    );
  }
  return kc;
}
