// Reconnect delays: exponential backoff with full jitter, capped, and reset once a connection
// has lasted a while (so one flap after hours of uptime does not wait 30 s).

export interface BackoffOptions {
  /** the first delay's upper bound in ms (default 250) */
  readonly initialMs?: number;
  /** no delay is longer (default 30 000, as docs/protocol.md advises) */
  readonly maxMs?: number;
  /** a connection that lived this long resets the backoff (default 10 000) */
  readonly resetAfterMs?: number;
}

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #resetAfter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(o: BackoffOptions = {}, random: () => number = Math.random) {
    this.#initial = o.initialMs ?? 250;
    this.#max = o.maxMs ?? 30_000;
    this.#resetAfter = o.resetAfterMs ?? 10_000;
    this.#random = random;
  }

  /** attempts since the last reset */
  get attempt(): number {
    return this.#attempt;
  }

  /** The next delay: uniform in [0, min(max, initial * 2^attempt)] ("full jitter"). */
  next(): number {
    const ceiling = Math.min(this.#max, this.#initial * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(this.#random() * ceiling);
  }

  /** A connection closed after living `livedMs`: long enough, and the next delay starts small. */
  closedAfter(livedMs: number): void {
    if (livedMs >= this.#resetAfter) this.#attempt = 0;
  }
}
