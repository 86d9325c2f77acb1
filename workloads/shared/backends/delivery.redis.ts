// Delivery over Redis pub/sub: each gateway listens on its own channel `<ns>gw:<gatewayId>` and
// on `<ns>gw:*` (EVERY_GATEWAY, a plain channel name, not a pattern); send is one PUBLISH, sendMany one pipeline of PUBLISHes (a connection keeps their order).
// Listening takes a dedicated subscriber connection, one per instance and shared by all its
// listens, that ioredis re-subscribes after a reconnect. At-most-once: what is published while
// the subscriber is away is lost, as the Delivery port allows. docs/decisions/0005.
import { Redis } from "ioredis";
import { checkGatewayId, type Delivery, EVERY_GATEWAY } from "./delivery.ts";
import {
  assertBounded,
  assertConnected,
  boundedRedisOptions,
  closeClient,
  execPipeline,
  pingRedis,
  type RedisClientSettings,
  type RedisKeys,
  redisKeys,
} from "./redis-keys.ts";

export interface RedisDeliveryOptions {
  /** key prefix of the ChatCluster, e.g. `sb:<cluster>:` */
  readonly namespace: string;
  /** receives what a listener threw; the default logs it. Other listeners are unaffected. */
  readonly onListenerError?: (err: unknown, gatewayId: string) => void;
}

interface Listener {
  readonly gatewayId: string;
  readonly onPayload: (payload: string) => void;
  active: boolean;
}

const logListenerError = (err: unknown, gatewayId: string): void => {
  console.error(`delivery listener for gateway ${gatewayId} threw`, err);
};

export class RedisDelivery implements Delivery {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #onListenerError: (err: unknown, gatewayId: string) => void;
  /** channel → its listeners; a channel is subscribed while it has any */
  readonly #channels = new Map<string, Set<Listener>>();
  #subscriber: Redis | undefined;
  #closed = false;

  /** Connects a client of its own with bounded options; close() quits it. */
  static connect(url: string, options: RedisDeliveryOptions & RedisClientSettings): RedisDelivery {
    return new RedisDelivery(new Redis(url, boundedRedisOptions(options)), options);
  }

  /**
   * Takes ownership of `client` (close() quits it), which must have bounded options. The
   * subscriber connection is its duplicate, made on the first listen.
   */
  constructor(client: Redis, options: RedisDeliveryOptions) {
    assertBounded(client);
    this.#client = client;
    this.#keys = redisKeys(options.namespace);
    this.#onListenerError = options.onListenerError ?? logListenerError;
  }

  /** Resolves how many subscriber connections received the payload. */
  async send(gatewayId: string, payload: string): Promise<number> {
    assertConnected(this.#client);
    return this.#client.publish(this.#keys.gatewayChannel(gatewayId), payload);
  }

  async sendMany(items: readonly { gatewayId: string; payload: string }[]): Promise<void> {
    if (items.length === 0) return;
    assertConnected(this.#client);
    const pipeline = this.#client.pipeline();
    for (const { gatewayId, payload } of items) {
      pipeline.publish(this.#keys.gatewayChannel(gatewayId), payload);
    }
    await execPipeline(pipeline);
  }

  /**
   * Resolves once Redis confirmed the subscription, so whatever is sent afterwards arrives.
   * SUBSCRIBE is repeated for each listener (it is idempotent, and its reply is the
   * confirmation); UNSUBSCRIBE is sent when a channel's last listener stops. Both go down one
   * connection in call order, so interleaved listens and stops end in the state of the last.
   */
  async listen(
    gatewayId: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error("delivery is closed");
    checkGatewayId(gatewayId);
    const subscriber = this.#subscriberConnection();
    const channels = [
      this.#keys.gatewayChannel(gatewayId),
      this.#keys.gatewayChannel(EVERY_GATEWAY),
    ];
    const listener: Listener = { gatewayId, onPayload, active: true };
    for (const channel of channels) {
      let listeners = this.#channels.get(channel);
      if (listeners === undefined) {
        listeners = new Set();
        this.#channels.set(channel, listeners);
      }
      listeners.add(listener);
    }
    const stop = async (): Promise<void> => {
      if (!listener.active) return;
      listener.active = false;
      const emptied: string[] = [];
      for (const channel of channels) {
        const current = this.#channels.get(channel);
        current?.delete(listener);
        if (current?.size === 0) {
          this.#channels.delete(channel);
          emptied.push(channel);
        }
      }
      if (emptied.length > 0) await subscriber.unsubscribe(...emptied);
    };
    try {
      await subscriber.subscribe(...channels);
    } catch (err) {
      await stop().catch(() => undefined);
      throw err;
    }
    return stop;
  }

  /** Redis answers, and the subscriber connection (once listening) is up and re-subscribed. */
  async ping(): Promise<void> {
    await pingRedis(this.#client);
    const sub = this.#subscriber;
    if (sub !== undefined && this.#channels.size > 0 && sub.status !== "ready") {
      throw new Error(`the delivery subscription's connection is ${sub.status}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const listeners of this.#channels.values()) {
      for (const listener of listeners) listener.active = false;
    }
    this.#channels.clear();
    await Promise.all([
      closeClient(this.#client),
      this.#subscriber === undefined ? undefined : closeClient(this.#subscriber),
    ]);
  }

  #subscriberConnection(): Redis {
    if (this.#subscriber === undefined) {
      const subscriber = this.#client.duplicate({
        connectionName: `${this.#keys.namespace}delivery-sub`,
        autoResubscribe: true,
      });
      subscriber.on("message", (channel: string, payload: string) => {
        this.#deliver(channel, payload);
      });
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  #deliver(channel: string, payload: string): void {
    const listeners = this.#channels.get(channel);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      if (!listener.active) continue;
      try {
        listener.onPayload(payload);
      } catch (err) {
        this.#onListenerError(err, listener.gatewayId);
      }
    }
  }
}
