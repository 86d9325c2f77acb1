// Delivery with a fallback: sends go through the primary (Redis pub/sub) and, when it fails or
// does not answer within `primaryTimeoutMs` (1 s), through the fallback (the bus: a Kafka topic
// every gateway reads). Listeners listen on both, so a gateway takes whatever arrives either way.
// docs/decisions/0019.
//
// - While the primary is down, sends go straight to the fallback (no wait per send), and the
//   primary is asked whether it is back (ping) at most once per `probeEveryMs`, one ask at a time.
// - When it answers again, sends go through both for `overlapMs`: the gateways' own primary
//   subscriptions reconnect on their own schedule (ioredis backs off up to 2 s), and until they
//   have, only the fallback reaches them.
// - A payload may so reach a gateway twice (a send that timed out but got through, the overlap);
//   gateways show each message once (a socket's room cursor drops seqs it has).
// The outage is reported once when it starts and once when it ends, and every payload sent
// through the fallback is counted.
import { Breaker } from "./breaker.ts";
import { checkGatewayId, type Delivery } from "./delivery.ts";

export interface FailoverEvents {
  /** the primary failed: sends go through the fallback from now on */
  down(err: unknown): void;
  /** the primary answers again (sends go through both for the overlap) */
  up(): void;
  /** `count` payloads were sent through the fallback */
  fellBack(count: number): void;
}

export interface FailoverDeliveryOptions {
  /** how long a send waits for the primary before it goes through the fallback (default 1,000) */
  readonly primaryTimeoutMs?: number;
  /** while the primary is down, the least time between two asks whether it is back (1,000) */
  readonly probeEveryMs?: number;
  /** how long after the primary's return sends go through both (default 5,000) */
  readonly overlapMs?: number;
  readonly events?: Partial<FailoverEvents>;
  /** the clock, in ms (default Date.now) */
  readonly now?: () => number;
}

type Items = readonly { gatewayId: string; payload: string }[];

export class FailoverDelivery implements Delivery {
  readonly #primary: Delivery;
  readonly #fallback: Delivery;
  readonly #events: Partial<FailoverEvents>;
  /** the primary's: down, or settling (the overlap) after it came back */
  readonly #breaker: Breaker;

  /** Owns both: close() closes them. */
  constructor(primary: Delivery, fallback: Delivery, options: FailoverDeliveryOptions = {}) {
    this.#primary = primary;
    this.#fallback = fallback;
    this.#events = options.events ?? {};
    const events = this.#events;
    this.#breaker = new Breaker({
      ping: () => primary.ping(),
      timeoutMs: options.primaryTimeoutMs ?? 1_000,
      probeEveryMs: options.probeEveryMs ?? 1_000,
      settleMs: options.overlapMs ?? 5_000,
      ...(options.now !== undefined && { now: options.now }),
      onDown: (err) => events.down?.(err),
      onUp: () => events.up?.(),
    });
  }

  /** Whether sends go through the primary alone now: it is neither down nor settling. */
  get primaryClear(): boolean {
    return !this.#breaker.down && !this.#breaker.settling;
  }

  /** Resolves the primary's count, or the fallback's when it went that way. */
  async send(gatewayId: string, payload: string): Promise<number> {
    const viaPrimary = await this.#breaker.call(() => this.#primary.send(gatewayId, payload));
    if (viaPrimary !== undefined && !this.#breaker.settling) return viaPrimary;
    const viaFallback = await this.#viaFallback(() => this.#fallback.send(gatewayId, payload), 1);
    return viaPrimary ?? viaFallback;
  }

  async sendMany(items: Items): Promise<void> {
    if (items.length === 0) return;
    const sent = await this.#breaker.call(async () => {
      await this.#primary.sendMany(items);
      return true;
    });
    if (sent && !this.#breaker.settling) return;
    await this.#viaFallback(() => this.#fallback.sendMany(items), items.length);
  }

  /** Listens on both; resolves once both listen (and stops both when either cannot). */
  async listen(
    gatewayId: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    checkGatewayId(gatewayId);
    const [primary, fallback] = await Promise.allSettled([
      this.#primary.listen(gatewayId, onPayload),
      this.#fallback.listen(gatewayId, onPayload),
    ]);
    if (primary.status === "rejected" || fallback.status === "rejected") {
      await Promise.allSettled(
        [primary, fallback].flatMap((r) => (r.status === "fulfilled" ? [r.value()] : [])),
      );
      throw primary.status === "rejected"
        ? primary.reason
        : (fallback as PromiseRejectedResult).reason;
    }
    return async () => {
      await Promise.all([primary.value(), fallback.value()]);
    };
  }

  /** Resolves while either path can deliver. */
  async ping(): Promise<void> {
    await this.check();
  }

  /**
   * The readiness check: resolves with what delivers now ("primary", or "degraded: …" while only
   * the fallback can), rejects when neither can.
   */
  async check(): Promise<string> {
    const [primary, fallback] = await Promise.allSettled([
      this.#primary.ping(),
      this.#fallback.ping(),
    ]);
    if (primary.status === "fulfilled") {
      return fallback.status === "fulfilled"
        ? "primary and fallback up"
        : `primary up; fallback down: ${reason(fallback)}`;
    }
    if (fallback.status === "fulfilled") {
      return `degraded: primary down (${reason(primary)}); delivering through the fallback`;
    }
    throw new Error(`primary down (${reason(primary)}); fallback down (${reason(fallback)})`);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([this.#primary.close(), this.#fallback.close()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  async #viaFallback<T>(op: () => Promise<T>, count: number): Promise<T> {
    const result = await op();
    this.#events.fellBack?.(count);
    return result;
  }
}

function reason(r: PromiseRejectedResult): string {
  return r.reason instanceof Error ? r.reason.message : String(r.reason);
}
