// Identifiers. A message id is derived from (sender, room, client_msg_id), so a retry of the
// same send — to any gateway — carries the same id and the forwarder stores it once, while the
// same client_msg_id in another room (or from another sender) is another message.
import { createHash, randomUUID } from "node:crypto";

const MESSAGE_NAMESPACE = "switchboard.dev/message";

export interface MessageKey {
  readonly senderId: string;
  readonly roomId: string;
  readonly clientMsgId: string;
}

/** A UUID (version 5 layout) from the sender, the room and the client's message id. */
export function messageId(key: MessageKey): string {
  const h = createHash("sha1")
    .update(`${MESSAGE_NAMESPACE}\0${key.senderId}\0${key.roomId}\0${key.clientMsgId}`)
    .digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const newId = (): string => randomUUID();
