// A breaker in front of a backend that may go away (docs/decisions/0019): a call that fails or
// does not answer within `timeoutMs` marks it down; while it is down calls are not tried (each
// would wait for its own failure) and it is asked whether it is back (ping) at most once per
// `probeEveryMs`, one ask at a time. Once it answers, the breaker is `settling` for `settleMs`:
// the caller may still take its other path, while whatever the backend lost is being rebuilt.
// Used by the failover delivery (Redis pub/sub, else Kafka) and the forwarder's registry lookups.

export interface BreakerOptions {
  /** resolves while the backend can serve */
  readonly ping: () => Promise<void>;
  /** how long a call may take before the backend counts as down (default 1,000 ms) */
  readonly timeoutMs?: number;
  /** while down, the least time between two asks whether it is back (default 1,000 ms) */
  readonly probeEveryMs?: number;
  /** how long after its return it counts as settling (default 5,000 ms) */
  readonly settleMs?: number;
  /** the clock, in ms (default Date.now) */
  readonly now?: () => number;
  /** it stopped answering (reported once per outage) */
  readonly onDown?: (err: unknown) => void;
  /** it answers again */
  readonly onUp?: () => void;
}

export class Breaker {
  readonly #o: BreakerOptions;
  readonly #now: () => number;
  #down = false;
  #settleUntil = 0;
  #lastProbe = 0;
  #probing = false;

  constructor(options: BreakerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while the backend is taken to be down. */
  get down(): boolean {
    return this.#down;
  }

  /** True for `settleMs` after the backend answered again. */
  get settling(): boolean {
    return this.#settleUntil > this.#now();
  }

  /** `op`'s answer, or undefined when the backend is down, `op` failed or was too slow. */
  async call<T>(op: () => Promise<T>): Promise<T | undefined> {
    if (this.#down) {
      this.#probe();
      return undefined;
    }
    const timeoutMs = this.#o.timeoutMs ?? 1_000;
    const pending = op();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      pending.catch(() => undefined); // a late failure of a call already given up on
      if (!this.#down) {
        this.#down = true;
        this.#lastProbe = this.#now();
        this.#o.onDown?.(err);
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #probe(): void {
    const now = this.#now();
    if (this.#probing || now - this.#lastProbe < (this.#o.probeEveryMs ?? 1_000)) return;
    this.#probing = true;
    this.#lastProbe = now;
    this.#o
      .ping()
      .then(
        () => {
          if (!this.#down) return;
          this.#down = false;
          this.#settleUntil = this.#now() + (this.#o.settleMs ?? 5_000);
          this.#o.onUp?.();
        },
        () => undefined, // still down: ask again later
      )
      .finally(() => {
        this.#probing = false;
      });
  }
}
