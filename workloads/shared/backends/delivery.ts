// Delivery: a channel addressed to one gateway pod. The forwarder sends each event to exactly
// the gateways that hold its receivers; each gateway listens on its own address only, and on
// EVERY_GATEWAY, which the forwarder uses when it cannot tell where the receivers are (the
// registry does not answer). Gateways ignore what is not for their sockets.
// At-most-once by design: a gateway that misses an event (it was restarting) has lost its
// sockets too, and their clients resume from the store.

/** The address of every gateway that listens: a broadcast. No gateway may take it as its id. */
export const EVERY_GATEWAY = "*";

export interface Delivery {
  /**
   * Sends one payload to the gateway (or to EVERY_GATEWAY); resolves how many listeners
   * received it where the adapter can tell (0 or 1 for one gateway).
   */
  send(gatewayId: string, payload: string): Promise<number>;
  /** Sends many payloads, each to its gateway, in order per gateway. */
  sendMany(items: readonly { gatewayId: string; payload: string }[]): Promise<void>;
  /**
   * Listens on the gateway's address and on EVERY_GATEWAY until the returned function is called.
   * Resolves once listening: whatever is sent afterwards arrives.
   */
  listen(gatewayId: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Resolves while the backend can serve now; rejects saying why (bounded in time). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Rejects a gateway id that is the broadcast address. */
export function checkGatewayId(gatewayId: string): string {
  if (gatewayId === EVERY_GATEWAY || gatewayId.length === 0) {
    throw new RangeError(`${JSON.stringify(gatewayId)} cannot be a gateway's id`);
  }
  return gatewayId;
}
