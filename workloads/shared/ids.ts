// Identifiers. A message id is derived from (sender, client_msg_id), so a retry of the same
// send — to any gateway — carries the same id, and the forwarder stores it once.
import { createHash, randomUUID } from "node:crypto";

const MESSAGE_NAMESPACE = "switchboard.dev/message";

/** A UUID (version 5 layout) from the sender and the client's message id. */
export function messageId(senderId: string, clientMsgId: string): string {
  const h = createHash("sha1").update(`${MESSAGE_NAMESPACE}\0${senderId}\0${clientMsgId}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const newId = (): string => randomUUID();
