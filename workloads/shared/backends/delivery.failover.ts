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
  readonly #timeoutMs: number;
  readonly #probeEveryMs: number;
  readonly #overlapMs: number;
  readonly #events: Partial<FailoverEvents>;
  readonly #now: () => number;
  /** set while the primary is down: since when, and why */
  #down: { since: number; why: string } | undefined;
  #lastProbe = 0;
  #probing = false;
  /** until when sends go through both after the primary came back */
  #overlapUntil = 0;

  /** Owns both: close() closes them. */
  constructor(primary: Delivery, fallback: Delivery, options: FailoverDeliveryOptions = {}) {
    this.#primary = primary;
    this.#fallback = fallback;
    this.#timeoutMs = options.primaryTimeoutMs ?? 1_000;
    this.#probeEveryMs = options.probeEveryMs ?? 1_000;
    this.#overlapMs = options.overlapMs ?? 5_000;
    this.#events = options.events ?? {};
    this.#now = options.now ?? Date.now;
  }

  /** Resolves the primary's count, or the fallback's when it went that way. */
  async send(gatewayId: string, payload: string): Promise<number> {
    const viaPrimary = await this.#viaPrimary(() => this.#primary.send(gatewayId, payload));
    if (viaPrimary !== undefined && !this.#overlapping()) return viaPrimary;
    const viaFallback = await this.#viaFallback(() => this.#fallback.send(gatewayId, payload), 1);
    return viaPrimary ?? viaFallback;
  }

  async sendMany(items: Items): Promise<void> {
    if (items.length === 0) return;
    const sent = await this.#viaPrimary(async () => {
      await this.#primary.sendMany(items);
      return true;
    });
    if (sent && !this.#overlapping()) return;
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

  /** The primary's answer, or undefined when it is down, failed or was too slow. */
  async #viaPrimary<T>(op: () => Promise<T>): Promise<T | undefined> {
    if (this.#down !== undefined) {
      this.#probe();
      return undefined;
    }
    const pending = op();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      pending.catch(() => undefined); // a late failure of a send already given up on
      this.#markDown(err);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  async #viaFallback<T>(op: () => Promise<T>, count: number): Promise<T> {
    const result = await op();
    this.#events.fellBack?.(count);
    return result;
  }

  #overlapping(): boolean {
    return this.#overlapUntil > this.#now();
  }

  #markDown(err: unknown): void {
    if (this.#down !== undefined) return;
    this.#down = { since: this.#now(), why: err instanceof Error ? err.message : String(err) };
    this.#lastProbe = this.#now();
    this.#events.down?.(err);
  }

  /** At most one ask at a time, and one per probeEveryMs, whether the primary is back. */
  #probe(): void {
    const now = this.#now();
    if (this.#probing || now - this.#lastProbe < this.#probeEveryMs) return;
    this.#probing = true;
    this.#lastProbe = now;
    this.#primary
      .ping()
      .then(
        () => {
          if (this.#down === undefined) return;
          this.#down = undefined;
          this.#overlapUntil = this.#now() + this.#overlapMs;
          this.#events.up?.();
        },
        () => undefined, // still down: ask again later
      )
      .finally(() => {
        this.#probing = false;
      });
  }
}

function reason(r: PromiseRejectedResult): string {
  return r.reason instanceof Error ? r.reason.message : String(r.reason);
}
