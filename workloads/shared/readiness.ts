// Readiness that tells the truth: a workload is ready only while every backend it needs to do
// its work answers. Each check runs every `intervalMs`, bounded by `timeoutMs` (one at a time
// per check); a check turns failing after `failuresToFail` failures in a row (a single slow
// answer does not flap the pod) and passing again at its first success. With the defaults
// (1 s, 2 s, 2) /readyz turns 503 at most 6 s after a backend goes away (about 2 s when the
// client already knows its connection is down) and 200 within about 1 s of the client
// reconnecting. Liveness (/healthz) never looks at these: a backend outage must not restart pods.
import type { Gauge } from "prom-client";

export interface ReadinessCheck {
  readonly name: string;
  /** resolves (optionally with a detail worth showing) while healthy; rejects saying why */
  readonly check: () => Promise<unknown>;
}

/**
 * A check of a backend the workload can do without for a while: passes as the backend's own
 * check does, and while that fails, passes degraded (saying so, and why) as long as `fallback`
 * passes; fails when both fail.
 */
export function degradedWhile(
  check: () => Promise<unknown>,
  fallback: () => Promise<unknown>,
  meanwhile: string,
): () => Promise<string> {
  return async () => {
    try {
      await check();
      return "ok";
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      try {
        await fallback();
      } catch (fallbackErr) {
        const also = fallbackErr instanceof Error ? fallbackErr.message : String(fallbackErr);
        throw new Error(`${why}; and no fallback: ${also}`);
      }
      return `degraded: ${why}; ${meanwhile}`;
    }
  };
}

export interface CheckState {
  readonly ok: boolean;
  readonly detail: string;
  /** when `ok` last changed (ISO 8601) */
  readonly since: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckState>>;
}

export interface ReadinessOptions {
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly failuresToFail?: number;
  /** set to 1 or 0 per check name */
  readonly gauge?: Gauge<"check">;
  readonly onChange?: (name: string, state: CheckState) => void;
}

interface Entry {
  readonly check: ReadinessCheck;
  state: CheckState;
  failures: number;
  running: boolean;
}

export class Readiness {
  readonly #entries: Entry[];
  readonly #o: Required<Omit<ReadinessOptions, "gauge" | "onChange">> & ReadinessOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(checks: readonly ReadinessCheck[], o: ReadinessOptions = {}) {
    this.#o = { intervalMs: 1_000, timeoutMs: 2_000, failuresToFail: 2, ...o };
    const since = new Date().toISOString();
    this.#entries = checks.map((check) => ({
      check,
      state: { ok: false, detail: "not checked yet", since },
      failures: 0,
      running: false,
    }));
    for (const e of this.#entries) o.gauge?.set({ check: e.check.name }, 0);
  }

  /** Checks at once, then every intervalMs until stop(). */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get ready(): boolean {
    return this.#entries.every((e) => e.state.ok);
  }

  report(): ReadinessReport {
    return {
      ready: this.ready,
      checks: Object.fromEntries(this.#entries.map((e) => [e.check.name, e.state])),
    };
  }

  /** One round of every check not already running; resolves when they have settled. */
  async poll(): Promise<void> {
    await Promise.all(this.#entries.filter((e) => !e.running).map((e) => this.#run(e)));
  }

  async #run(e: Entry): Promise<void> {
    e.running = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        e.check.check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#o.timeoutMs} ms`)),
            this.#o.timeoutMs,
          );
        }),
      ]);
      e.failures = 0;
      this.#set(e, true, typeof detail === "string" ? detail : "ok");
    } catch (err) {
      e.failures++;
      const why = err instanceof Error ? err.message : String(err);
      // keep the state until the failures in a row reach the threshold, but say why
      if (e.failures >= this.#o.failuresToFail || !e.state.ok) this.#set(e, false, why);
    } finally {
      clearTimeout(timer);
      e.running = false;
    }
  }

  #set(e: Entry, ok: boolean, detail: string): void {
    const changed = e.state.ok !== ok;
    e.state = {
      ok,
      detail: detail.slice(0, 200),
      since: changed ? new Date().toISOString() : e.state.since,
    };
    this.#o.gauge?.set({ check: e.check.name }, ok ? 1 : 0);
    if (changed) this.#o.onChange?.(e.check.name, e.state);
  }
}
