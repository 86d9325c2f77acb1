// Users and rooms for a benchmark, created through the gateway's own REST API (registration
// hashes each password with the KDF cost the stack's env sets: e2e/testkit lowers it).
import { Rest, type Session } from "../../e2e/testkit/index.ts";

/** Runs `task(i)` for i in [0, n) with at most `limit` in flight. */
export async function forEachLimited(
  n: number,
  limit: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
}

export async function registerUsers(
  gatewayUrls: readonly string[],
  n: number,
  prefix: string,
  concurrency = 16,
): Promise<Session[]> {
  const rests = gatewayUrls.map((u) => new Rest(u));
  const users: Session[] = new Array(n);
  await forEachLimited(n, concurrency, async (i) => {
    const rest = rests[i % rests.length] as Rest;
    users[i] = await rest.register(`${prefix}${i}`, "bench-password-1");
  });
  return users;
}

/** Group rooms of consecutive users: room r holds users [r*size, (r+1)*size). */
export async function createRooms(
  gatewayUrl: string,
  users: readonly Session[],
  size: number,
  concurrency = 16,
): Promise<{ id: string; members: Session[] }[]> {
  const rest = new Rest(gatewayUrl);
  const count = Math.floor(users.length / size);
  const rooms: { id: string; members: Session[] }[] = new Array(count);
  await forEachLimited(count, concurrency, async (r) => {
    const members = users.slice(r * size, (r + 1) * size);
    const [owner, ...others] = members as [Session, ...Session[]];
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: `bench-${r}`, members: others.map((m) => m.userId) },
      owner.accessToken,
    );
    rooms[r] = { id: room.id as string, members };
  });
  return rooms;
}
