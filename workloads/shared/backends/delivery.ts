// Delivery: a channel addressed to one gateway pod. The forwarder sends each event to exactly
// the gateways that hold its receivers; each gateway listens on its own address only.
// At-most-once by design: a gateway that misses an event (it was restarting) has lost its
// sockets too, and their clients resume from the store.

export interface Delivery {
  /** Sends one payload to the gateway; resolves how many listeners received it (0 or 1). */
  send(gatewayId: string, payload: string): Promise<number>;
  /** Sends many payloads, each to its gateway, in order per gateway. */
  sendMany(items: readonly { gatewayId: string; payload: string }[]): Promise<void>;
  /** Listens on the gateway's address until the returned function is called. */
  listen(gatewayId: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Resolves while the backend can serve now; rejects saying why (bounded in time). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
