// Telling a user's open sockets that their unread notification count changed: the gateways the
// registry lists for them get an `unread` delivery, and each reads the count and sends it as a
// `notifications` frame (workloads/gateway/ws/hub.ts). Best effort, like every delivery: a
// socket that misses it has the count again in its next welcome, and in every list it reads.
import type { Delivery } from "./backends/delivery.ts";
import type { Registry } from "./backends/registry.ts";
import { encode } from "./events.ts";

/** How long the registry may take to say where the users are before nobody is told. */
export const ANNOUNCE_TIMEOUT_MS = 1_000;

export async function announceUnreadChanged(
  to: {
    readonly registry: Pick<Registry, "gatewaysForUser">;
    readonly delivery: Pick<Delivery, "sendMany">;
  },
  userIds: Iterable<string>,
): Promise<void> {
  const users = [...new Set(userIds)];
  if (users.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const where = await Promise.race([
    Promise.all(
      users.map(async (userId) => ({
        userId,
        gateways: await to.registry.gatewaysForUser(userId),
      })),
    ),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the registry did not answer within ${ANNOUNCE_TIMEOUT_MS} ms`)),
        ANNOUNCE_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const items = where.flatMap(({ userId, gateways }) => {
    const payload = encode({ kind: "unread", userId });
    return gateways.map((gatewayId) => ({ gatewayId, payload }));
  });
  if (items.length > 0) await to.delivery.sendMany(items);
}
