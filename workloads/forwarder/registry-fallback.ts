// Routing while the registry does not answer (docs/decisions/0019). The forwarder cannot tell
// then which gateways hold an event's receivers, so rather than fail the batch (and stop every
// ack until Redis is back) it addresses the event to EVERY_GATEWAY: the delivery sends it to all
// of them (through the Kafka deliveries topic while Redis is down), and each gateway ignores
// what is not for its sockets.
//
// A lookup that fails or takes longer than `lookupTimeoutMs` marks the registry down. While it
// is down, lookups are not tried (each would wait for its own failure); the registry is asked
// whether it is back (ping) at most once per `probeEveryMs`, one ask at a time. Once it answers,
// events still go to every gateway for `settleMs`: a Redis that comes back empty has lost the
// registry, and the gateways record themselves again within a few seconds (decision 0005).
import { EVERY_GATEWAY } from "../shared/backends/delivery.ts";
import { REGISTRY_SETTLE_MS } from "../shared/backends/registry.ts";

export interface RegistryFallbackOptions {
  /** resolves while the registry can serve (Registry.ping) */
  readonly ping: () => Promise<void>;
  /** default 1,000 ms (a lost connection fails at once: this bounds a Redis that hangs) */
  readonly lookupTimeoutMs?: number;
  /** default 1,000 ms */
  readonly probeEveryMs?: number;
  /** default REGISTRY_SETTLE_MS (5 s) */
  readonly settleMs?: number;
  readonly now?: () => number;
  /** the registry stopped answering: events go to every gateway from now on */
  readonly onDown?: (err: unknown) => void;
  readonly onUp?: () => void;
  /** one event was addressed to every gateway instead of its own */
  readonly onBroadcast?: () => void;
}

export class RegistryFallback {
  readonly #o: RegistryFallbackOptions;
  readonly #timeoutMs: number;
  readonly #probeEveryMs: number;
  readonly #now: () => number;
  readonly #settleMs: number;
  #down = false;
  /** until when events still go to every gateway after the registry answered again */
  #settleUntil = 0;
  #lastProbe = 0;
  #probing = false;

  constructor(options: RegistryFallbackOptions) {
    this.#o = options;
    this.#timeoutMs = options.lookupTimeoutMs ?? 1_000;
    this.#probeEveryMs = options.probeEveryMs ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#settleMs = options.settleMs ?? REGISTRY_SETTLE_MS;
  }

  /** True while the registry is taken to be down. */
  get down(): boolean {
    return this.#down;
  }

  /** The gateways `lookup` names; [EVERY_GATEWAY] while the registry is down, fails or is slow. */
  async gateways(lookup: () => Promise<string[]>): Promise<string[]> {
    if (this.#down) {
      this.#probe();
      return this.#broadcast();
    }
    if (this.#now() < this.#settleUntil) return this.#broadcast();
    const pending = lookup();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the registry did not answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      pending.catch(() => undefined); // a late failure of a lookup already given up on
      if (!this.#down) {
        this.#down = true;
        this.#lastProbe = this.#now();
        this.#o.onDown?.(err);
      }
      return this.#broadcast();
    } finally {
      clearTimeout(timer);
    }
  }

  #broadcast(): string[] {
    this.#o.onBroadcast?.();
    return [EVERY_GATEWAY];
  }

  #probe(): void {
    const now = this.#now();
    if (this.#probing || now - this.#lastProbe < this.#probeEveryMs) return;
    this.#probing = true;
    this.#lastProbe = now;
    this.#o
      .ping()
      .then(
        () => {
          if (!this.#down) return;
          this.#down = false;
          this.#settleUntil = this.#now() + this.#settleMs;
          this.#o.onUp?.();
        },
        () => undefined, // still down: ask again later
      )
      .finally(() => {
        this.#probing = false;
      });
  }
}
