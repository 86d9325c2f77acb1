// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// a candidate takes the Lease when it is free or when its holder has not renewed it for
// leaseDuration as measured on the candidate's own clock (no clock-skew assumption), writes
// with the Lease's resourceVersion (so two candidates cannot both win), renews every
// retryPeriod, and gives up leadership when it could not renew within renewDeadline. Release on
// shutdown hands over at once.
import {
  ApiException,
  type CoordinationV1Api,
  type V1Lease,
  V1MicroTime,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { withTimeout } from "./kube.ts";

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly onStarted: () => void;
  readonly onStopped: () => void;
}

export interface LeaseRecord {
  readonly holder: string;
  readonly renewTime: string;
  readonly resourceVersion: string;
}

/** What a candidate does next, given the record and when it last saw that record change. */
export function leaseDecision(
  record: LeaseRecord | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
  leaseDurationMs: number,
): "create" | "renew" | "take" | "wait" {
  if (record === undefined) return "create";
  if (record.holder === identity) return "renew";
  if (record.holder === "" || observedAtMs + leaseDurationMs <= nowMs) return "take";
  return "wait";
}

const sleep = (ms: number) =>
  new Promise<void>((r) => {
    setTimeout(r, ms).unref();
  });

export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #o: LeaderOptions;
  readonly #log: Logger;
  #leading = false;
  #stopped = false;
  #observed: { key: string; atMs: number } | undefined;
  #lastRenewMs = 0;
  #loop: Promise<void> | undefined;

  constructor(api: CoordinationV1Api, o: LeaderOptions, log: Logger) {
    this.#api = api;
    this.#o = o;
    this.#log = log;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops campaigning; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    if (this.#leading) {
      this.#leading = false;
      await this.#release().catch((err: unknown) =>
        this.#log.warn({ err }, "could not release the Lease"),
      );
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const ok = await this.#tryAcquireOrRenew().catch((err: unknown) => {
        // a standby's failed take-over (409) is routine; a leader's failed renewal is not
        if (this.#leading) this.#log.warn({ err: String(err) }, "could not renew the Lease");
        return false;
      });
      const now = Date.now();
      if (ok) {
        this.#lastRenewMs = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#log.info({ lease: this.#o.name, identity: this.#o.identity }, "became the leader");
          this.#o.onStarted();
        }
      } else if (this.#leading && now - this.#lastRenewMs >= this.#o.renewDeadlineMs) {
        this.#leading = false;
        this.#log.error({ lease: this.#o.name }, "lost the Lease: stopping reconciles");
        this.#o.onStopped();
        return;
      }
      await sleep(this.#o.retryPeriodMs);
    }
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await withTimeout(
        "read Lease",
        this.#o.retryPeriodMs * 2,
        this.#api.readNamespacedLease({ namespace: this.#o.namespace, name: this.#o.name }),
      );
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const lease = await this.#read();
    const now = Date.now();
    const record: LeaseRecord | undefined =
      lease === undefined
        ? undefined
        : {
            holder: lease.spec?.holderIdentity ?? "",
            // read back as a string despite the V1MicroTime typing
            renewTime: String(lease.spec?.renewTime ?? ""),
            resourceVersion: lease.metadata?.resourceVersion ?? "",
          };
    if (record !== undefined) {
      const key = `${record.holder}|${record.renewTime}`;
      if (this.#observed?.key !== key) this.#observed = { key, atMs: now };
    }
    const decision = leaseDecision(
      record,
      this.#o.identity,
      this.#observed?.atMs ?? now,
      now,
      this.#o.leaseDurationMs,
    );
    if (decision === "wait") return false;
    const spec = {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000)),
      renewTime: new V1MicroTime(),
      acquireTime:
        decision === "renew" ? (lease?.spec?.acquireTime ?? new V1MicroTime()) : new V1MicroTime(),
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (decision === "take" ? 1 : 0),
    };
    const timeout = this.#o.retryPeriodMs * 2;
    if (decision === "create") {
      await withTimeout(
        "create Lease",
        timeout,
        this.#api.createNamespacedLease({
          namespace: this.#o.namespace,
          body: { metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec },
        }),
      );
      return true;
    }
    // resourceVersion makes this a compare-and-swap: a concurrent winner makes it fail with 409
    await withTimeout(
      "update Lease",
      timeout,
      this.#api.replaceNamespacedLease({
        namespace: this.#o.namespace,
        name: this.#o.name,
        body: {
          metadata: {
            name: this.#o.name,
            namespace: this.#o.namespace,
            resourceVersion: record?.resourceVersion ?? "",
          },
          spec,
        },
      }),
    );
    return true;
  }

  async #release(): Promise<void> {
    const lease = await this.#read();
    if (lease?.spec?.holderIdentity !== this.#o.identity) return;
    await this.#api.replaceNamespacedLease({
      namespace: this.#o.namespace,
      name: this.#o.name,
      body: {
        metadata: {
          name: this.#o.name,
          namespace: this.#o.namespace,
          resourceVersion: lease.metadata?.resourceVersion ?? "",
        },
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: new V1MicroTime(),
        },
      },
    });
  }
}
