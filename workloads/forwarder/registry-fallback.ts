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
import { Breaker } from "../shared/backends/breaker.ts";
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
  readonly #breaker: Breaker;

  constructor(options: RegistryFallbackOptions) {
    this.#o = options;
    this.#breaker = new Breaker({
      ping: options.ping,
      timeoutMs: options.lookupTimeoutMs ?? 1_000,
      probeEveryMs: options.probeEveryMs ?? 1_000,
      settleMs: options.settleMs ?? REGISTRY_SETTLE_MS,
      ...(options.now !== undefined && { now: options.now }),
      ...(options.onDown !== undefined && { onDown: options.onDown }),
      ...(options.onUp !== undefined && { onUp: options.onUp }),
    });
  }

  /** True while the registry is taken to be down. */
  get down(): boolean {
    return this.#breaker.down;
  }

  /** The gateways `lookup` names; [EVERY_GATEWAY] while the registry is down, fails or is slow. */
  async gateways(lookup: () => Promise<string[]>): Promise<string[]> {
    if (!this.#breaker.down && this.#breaker.settling) return this.#broadcast();
    return (await this.#breaker.call(lookup)) ?? this.#broadcast();
  }

  /** gateways() of many keys in one lookup: each key's, or [EVERY_GATEWAY] for every key. */
  async gatewaysOfEach(
    keys: readonly string[],
    lookup: () => Promise<Map<string, string[]>>,
  ): Promise<Map<string, string[]>> {
    const everywhere = () => new Map(keys.map((k) => [k, this.#broadcast()]));
    if (keys.length === 0) return new Map();
    if (!this.#breaker.down && this.#breaker.settling) return everywhere();
    return (await this.#breaker.call(lookup)) ?? everywhere();
  }

  #broadcast(): string[] {
    this.#o.onBroadcast?.();
    return [EVERY_GATEWAY];
  }
}
