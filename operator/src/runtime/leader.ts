// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// a candidate takes the Lease when it is free or when its holder has not renewed it for
// leaseDuration as measured on the candidate's own clock (no clock-skew assumption), writes
// with the Lease's resourceVersion (so two candidates cannot both win), renews every
// retryPeriod, and gives up leadership when it could not renew within renewDeadline. Release on
// shutdown hands over at once.
// Losing the Lease is not the end of the candidate: it reports onStopped, forgets what it had
// observed, and campaigns again like a freshly started replica would, so an operator that runs
// in-process (tests, or a Pod whose API server was slow for a moment) leads again once the
// Lease is free. The Lease API and the clock are injected so unit tests drive both.
import {
  ApiException,
  type CoordinationV1Api,
  type V1Lease,
  type V1LeaseSpec,
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

/** The Lease as the elector sees it; `spec` is written back as read apart from the fields it sets. */
export interface LeaseState {
  readonly record: LeaseRecord;
  readonly acquireTime: V1MicroTime | undefined;
  readonly leaseTransitions: number;
  readonly spec: V1LeaseSpec;
}

/** Reading and compare-and-swap writing of one Lease (a CoordinationV1Api in production). */
export interface LeaseStore {
  read(): Promise<LeaseState | undefined>;
  create(spec: V1LeaseSpec): Promise<void>;
  /** Fails (409) when the Lease's resourceVersion is no longer `resourceVersion`. */
  replace(resourceVersion: string, spec: V1LeaseSpec): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) =>
    new Promise<void>((r) => {
      setTimeout(r, ms).unref();
    }),
};

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

/** The LeaseStore of one Lease on the API server, each call bounded by `timeoutMs`. */
export function kubeLeaseStore(
  api: CoordinationV1Api,
  namespace: string,
  name: string,
  timeoutMs: number,
): LeaseStore {
  const metadata = { name, namespace };
  return {
    async read() {
      let lease: V1Lease;
      try {
        lease = await withTimeout(
          "read Lease",
          timeoutMs,
          api.readNamespacedLease({ namespace, name }),
        );
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw err;
      }
      return {
        record: {
          holder: lease.spec?.holderIdentity ?? "",
          // read back as a string despite the V1MicroTime typing
          renewTime: String(lease.spec?.renewTime ?? ""),
          resourceVersion: lease.metadata?.resourceVersion ?? "",
        },
        acquireTime: lease.spec?.acquireTime,
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
        spec: lease.spec ?? {},
      };
    },
    async create(spec) {
      await withTimeout(
        "create Lease",
        timeoutMs,
        api.createNamespacedLease({ namespace, body: { metadata, spec } }),
      );
    },
    async replace(resourceVersion, spec) {
      await withTimeout(
        "update Lease",
        timeoutMs,
        api.replaceNamespacedLease({
          namespace,
          name,
          body: { metadata: { ...metadata, resourceVersion }, spec },
        }),
      );
    },
  };
}

export class LeaderElector {
  readonly #store: LeaseStore;
  readonly #o: LeaderOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  #leading = false;
  #stopped = false;
  #observed: { key: string; atMs: number } | undefined;
  #lastRenewMs = 0;
  #loop: Promise<void> | undefined;

  constructor(store: LeaseStore, o: LeaderOptions, log: Logger, clock: Clock = realClock) {
    this.#store = store;
    this.#o = o;
    this.#log = log;
    this.#clock = clock;
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
      const now = this.#clock.now();
      if (ok) {
        this.#lastRenewMs = now;
        if (!this.#leading) {
          // held even when stopping, so that stop() releases it
          this.#leading = true;
          if (this.#stopped) break;
          this.#log.info({ lease: this.#o.name, identity: this.#o.identity }, "became the leader");
          this.#o.onStarted();
        }
      } else if (this.#leading && now - this.#lastRenewMs >= this.#o.renewDeadlineMs) {
        this.#leading = false;
        // a fresh candidate: the Lease must be seen unrenewed for a whole duration before a take
        this.#observed = undefined;
        this.#log.error(
          { lease: this.#o.name },
          "lost the Lease: stopping reconciles and campaigning again",
        );
        this.#o.onStopped();
      }
      await this.#clock.sleep(this.#o.retryPeriodMs);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const lease = await this.#store.read();
    const now = this.#clock.now();
    const record = lease?.record;
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
    const spec: V1LeaseSpec = {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000)),
      renewTime: new V1MicroTime(),
      acquireTime:
        decision === "renew" ? (lease?.acquireTime ?? new V1MicroTime()) : new V1MicroTime(),
      leaseTransitions: (lease?.leaseTransitions ?? 0) + (decision === "take" ? 1 : 0),
    };
    if (decision === "create") await this.#store.create(spec);
    // resourceVersion makes this a compare-and-swap: a concurrent winner makes it fail with 409
    else await this.#store.replace(record?.resourceVersion ?? "", spec);
    return true;
  }

  async #release(): Promise<void> {
    const lease = await this.#store.read();
    if (lease?.record.holder !== this.#o.identity) return;
    await this.#store.replace(lease.record.resourceVersion, {
      ...lease.spec,
      holderIdentity: "",
      leaseDurationSeconds: 1,
      renewTime: new V1MicroTime(),
    });
  }
}
