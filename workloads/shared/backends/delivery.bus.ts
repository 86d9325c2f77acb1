// Delivery over the bus: one topic (`<cluster>.deliveries`) that every gateway reads whole. A
// record's key is its address (a gateway id, or EVERY_GATEWAY); each listener hands on the
// records addressed to its gateway or to all, and skips the rest. It is the fallback path when
// Redis pub/sub does not answer (delivery.failover.ts, docs/decisions/0019): Kafka holds the
// messages anyway, so while it is up a message can still go end to end.
//
// Each listener is a consumer group of its own with one member (`<topic>.<gatewayId>.<random>`),
// which starts at the end of the topic and commits nothing (Bus `start: "latest"`): a gateway
// that restarts has lost its sockets, and their clients resume from the store. Such a group
// holds no offsets, so the broker drops it once its member is gone. At-most-once, as the port
// allows: what is published while a listener's client restarts is not delivered to it.
//
// send cannot tell how many listeners will read a record: it resolves 1 once the bus holds it.
import { randomBytes } from "node:crypto";
import type { Bus, BusConsumer } from "./bus.ts";
import { checkGatewayId, type Delivery, EVERY_GATEWAY } from "./delivery.ts";

export interface BusDeliveryOptions {
  /** the deliveries topic (deliveriesTopicOf in workloads/contract/settings.ts) */
  readonly topic: string;
  /** receives what a listener threw; the default logs it. Other listeners are unaffected. */
  readonly onListenerError?: (err: unknown, gatewayId: string) => void;
}

const logListenerError = (err: unknown, gatewayId: string): void => {
  console.error(`delivery listener for gateway ${gatewayId} threw`, err);
};

export class BusDelivery implements Delivery {
  readonly #bus: Bus;
  readonly #topic: string;
  readonly #onListenerError: (err: unknown, gatewayId: string) => void;
  readonly #consumers = new Set<BusConsumer>();
  #closed = false;

  /** Uses `bus` (shared, not owned: close() leaves it open) to publish and to listen. */
  constructor(bus: Bus, options: BusDeliveryOptions) {
    this.#bus = bus;
    this.#topic = options.topic;
    this.#onListenerError = options.onListenerError ?? logListenerError;
  }

  async send(gatewayId: string, payload: string): Promise<number> {
    await this.sendMany([{ gatewayId, payload }]);
    return 1;
  }

  /** One publish; a gateway's records share a key, so they keep their order. */
  async sendMany(items: readonly { gatewayId: string; payload: string }[]): Promise<void> {
    this.#checkOpen();
    if (items.length === 0) return;
    await this.#bus.publish(
      this.#topic,
      items.map(({ gatewayId, payload }) => ({ key: gatewayId, value: payload, headers: {} })),
    );
  }

  async listen(
    gatewayId: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    this.#checkOpen();
    checkGatewayId(gatewayId);
    let active = true;
    const consumer = await this.#bus.consume({
      groupId: `${this.#topic}.${gatewayId}.${randomBytes(4).toString("hex")}`,
      topic: this.#topic,
      start: "latest",
      onBatch: async ({ records }) => {
        for (const { key, value } of records) {
          if (!active || (key !== gatewayId && key !== EVERY_GATEWAY)) continue;
          try {
            onPayload(value);
          } catch (err) {
            this.#onListenerError(err, gatewayId);
          }
        }
      },
    });
    this.#consumers.add(consumer);
    return async () => {
      active = false;
      this.#consumers.delete(consumer);
      await consumer.stop();
    };
  }

  /** The bus can take a publish, and every listener is in its group. */
  async ping(): Promise<void> {
    this.#checkOpen();
    await this.#bus.ping();
    for (const consumer of this.#consumers) {
      if (!consumer.membership().joined) {
        throw new Error(`the listener on ${this.#topic} is not consuming (joining again)`);
      }
    }
  }

  /** Stops the listeners; the bus stays open (its owner closes it). */
  async close(): Promise<void> {
    this.#closed = true;
    const consumers = [...this.#consumers];
    this.#consumers.clear();
    await Promise.allSettled(consumers.map((c) => c.stop()));
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("delivery is closed");
  }
}
