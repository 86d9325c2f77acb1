// Delivery in memory, for the embedded default. Like the Redis adapter it hands each payload to
// its listeners asynchronously (one macrotask later, as a network hop would), in send order, and
// send resolves the number of listeners the payload was addressed to.
import { checkGatewayId, type Delivery, EVERY_GATEWAY } from "./delivery.ts";

export interface MemoryDeliveryOptions {
  /** receives what a listener threw; the default logs it. Other listeners are unaffected. */
  readonly onListenerError?: (err: unknown, gatewayId: string) => void;
}

interface Listener {
  readonly onPayload: (payload: string) => void;
  active: boolean;
}

const logListenerError = (err: unknown, gatewayId: string): void => {
  console.error(`delivery listener for gateway ${gatewayId} threw`, err);
};

export class MemoryDelivery implements Delivery {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #onListenerError: (err: unknown, gatewayId: string) => void;
  #closed = false;

  constructor(options: MemoryDeliveryOptions = {}) {
    this.#onListenerError = options.onListenerError ?? logListenerError;
  }

  async send(gatewayId: string, payload: string): Promise<number> {
    this.#checkOpen();
    return this.#dispatch(gatewayId, payload);
  }

  async sendMany(items: readonly { gatewayId: string; payload: string }[]): Promise<void> {
    this.#checkOpen();
    for (const { gatewayId, payload } of items) this.#dispatch(gatewayId, payload);
  }

  async listen(
    gatewayId: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    this.#checkOpen();
    checkGatewayId(gatewayId);
    const listener: Listener = { onPayload, active: true };
    let listeners = this.#listeners.get(gatewayId);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(gatewayId, listeners);
    }
    listeners.add(listener);
    return async () => {
      listener.active = false;
      const current = this.#listeners.get(gatewayId);
      current?.delete(listener);
      if (current?.size === 0) this.#listeners.delete(gatewayId);
    };
  }

  /** In-process: always reachable. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    for (const listeners of this.#listeners.values()) {
      for (const listener of listeners) listener.active = false;
    }
    this.#listeners.clear();
  }

  #dispatch(gatewayId: string, payload: string): number {
    const targets =
      gatewayId === EVERY_GATEWAY
        ? [...this.#listeners].flatMap(([id, set]) => [...set].map((l) => [id, l] as const))
        : [...(this.#listeners.get(gatewayId) ?? [])].map((l) => [gatewayId, l] as const);
    if (targets.length === 0) return 0;
    setImmediate(() => {
      for (const [id, listener] of targets) {
        if (!listener.active) continue;
        try {
          listener.onPayload(payload);
        } catch (err) {
          this.#onListenerError(err, id);
        }
      }
    });
    return targets.length;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("delivery is closed");
  }
}
