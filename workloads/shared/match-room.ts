// How a match ends, shared by the gateway (a member leaves) and the matcher (a member was
// matched anew): every member is removed, so the room takes no more messages and cannot be
// joined again, and each removal is told to all of them wherever they are — the partner hears
// `user_left` even while their socket is still joining the room.
import type { Store } from "./backends/store.ts";
import type { BusEvent } from "./events.ts";

/**
 * Removes every member of the match room, `leaverId` first; returns the member-left events to
 * publish (none when the room had already ended). `requestId` is echoed to the leaver.
 */
export async function endMatchRoom(
  store: Store,
  roomId: string,
  leaverId: string,
  requestId?: string,
): Promise<BusEvent[]> {
  const members = (await store.listMembers(roomId)).sort(
    (x, y) => Number(y.userId === leaverId) - Number(x.userId === leaverId),
  );
  const notify = members.map((m) => m.userId);
  const events: BusEvent[] = [];
  for (const m of members) {
    if (await store.removeMember(roomId, m.userId)) {
      events.push({
        kind: "member",
        roomId,
        userId: m.userId,
        change: "left",
        notify,
        ...(m.userId === leaverId && requestId ? { requestId } : {}),
      });
    }
  }
  return events;
}
