// The work queue: keys (namespace/name) waiting for a reconcile.
// - one reconcile at a time per key: a key that changes while it is being reconciled is marked
//   dirty and runs once more afterwards;
// - repeated events for a key merge into one entry;
// - a failure requeues the key after a capped exponential backoff (an event arriving during
//   that backoff does not cut it short, so a broken backend is not hammered);
// - bounded: at most `maxKeys` distinct keys are held; more are refused and counted;
// - pause() drops what waits and lets the running reconciles finish, starting no new one until
//   resume() (a leader that lost its Lease stands by; the caller re-adds every key on resume);
// - stop() is a pause for good.
import type { StepResult } from "../reconcile/result.ts";

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface QueueOptions {
  readonly process: (key: string) => Promise<StepResult>;
  readonly concurrency: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxKeys: number;
  readonly timers?: Timers;
  readonly onDepth?: (depth: number) => void;
  readonly onDropped?: (key: string) => void;
  readonly onError?: (key: string, err: unknown) => void;
}

/** The delay before retry number `failures` (1, 2, ...): base·2^(n-1), capped. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export class WorkQueue {
  readonly #o: QueueOptions;
  readonly #t: Timers;
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #delayed = new Map<string, { handle: unknown; backoff: boolean }>();
  readonly #failures = new Map<string, number>();
  readonly #idle = new Set<() => void>();
  #stopped = false;
  #paused = false;

  constructor(o: QueueOptions) {
    this.#o = o;
    this.#t = o.timers ?? realTimers;
  }

  get depth(): number {
    return this.#queued.size + this.#delayed.size;
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Reconcile `key` as soon as a worker is free (merged with any pending entry). */
  add(key: string): void {
    if (this.#paused) return;
    const delayed = this.#delayed.get(key);
    if (delayed?.backoff === true) return; // keep the backoff
    if (delayed !== undefined) {
      this.#t.clearTimeout(delayed.handle);
      this.#delayed.delete(key);
    }
    if (this.#active.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    if (this.#queued.size + this.#delayed.size >= this.#o.maxKeys) {
      this.#o.onDropped?.(key);
      return;
    }
    this.#queued.add(key);
    this.#ready.push(key);
    this.#depthChanged();
    this.#pump();
  }

  /** Reconcile `key` after `ms` (unless an earlier entry already exists). */
  addAfter(key: string, ms: number, backoff = false): void {
    if (this.#paused || this.#queued.has(key) || this.#delayed.has(key)) return;
    const handle = this.#t.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { handle, backoff });
    this.#depthChanged();
  }

  /** Forgets a key (the object is gone). */
  forget(key: string): void {
    this.#failures.delete(key);
    const d = this.#delayed.get(key);
    if (d !== undefined) this.#t.clearTimeout(d.handle);
    this.#delayed.delete(key);
    this.#depthChanged();
  }

  /** Stops for good; resolves when the running reconciles have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.pause();
  }

  /** Stops taking work until resume(); resolves when the running reconciles have finished. */
  async pause(): Promise<void> {
    this.#paused = true;
    for (const d of this.#delayed.values()) this.#t.clearTimeout(d.handle);
    this.#delayed.clear();
    this.#ready.length = 0;
    this.#queued.clear();
    this.#depthChanged();
    if (this.#active.size === 0) return;
    await new Promise<void>((resolve) => this.#idle.add(resolve));
  }

  /** Takes work again after pause() (not after stop()); pending keys were dropped: re-add them. */
  resume(): void {
    if (!this.#stopped) this.#paused = false;
  }

  #depthChanged(): void {
    this.#o.onDepth?.(this.depth);
  }

  #pump(): void {
    while (!this.#paused && this.#active.size < this.#o.concurrency) {
      const key = this.#ready.shift();
      if (key === undefined) return;
      this.#queued.delete(key);
      this.#active.add(key);
      this.#depthChanged();
      void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    let result: StepResult;
    try {
      result = await this.#o.process(key);
    } catch (err) {
      this.#o.onError?.(key, err);
      result = { kind: "error", step: "reconcile", message: String(err) };
    }
    this.#active.delete(key);
    if (result.kind === "error") {
      const n = this.failures(key) + 1;
      this.#failures.set(key, n);
      this.#dirty.delete(key);
      this.addAfter(key, backoffMs(n, this.#o.baseDelayMs, this.#o.maxDelayMs), true);
    } else {
      this.#failures.delete(key);
      if (this.#dirty.delete(key)) this.add(key);
      else if (result.kind === "requeue") this.addAfter(key, result.afterMs);
    }
    if (this.#active.size === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
    this.#pump();
  }
}
