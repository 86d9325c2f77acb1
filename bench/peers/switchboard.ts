// Switchboard in bench/peers: two gateways and two forwarders as processes on the shared stack
// (Kafka, Cassandra, Redis), as bench/e2e.ts runs them; each room's members registered and
// grouped through the gateways' REST API.
import { ChatStack } from "../../e2e/testkit/index.ts";
import { stackPids } from "../lib/machine.ts";
import { createRooms, registerUsers } from "../lib/population.ts";
import { type RoomShape, type Running, roomSockets } from "./system.ts";

export async function startSwitchboard(shape: RoomShape, partitions: number): Promise<Running> {
  const stack = await ChatStack.start({
    gateways: 2,
    forwarders: 2,
    partitions,
    env: { RATE_LIMIT_BURST: "100000", RATE_LIMIT_PER_SECOND: "100000" },
  });
  try {
    const gwUrls = stack.gateways.map((g) => g.url);
    const wsUrls = gwUrls.map((u) => `${u.replace(/^http/, "ws")}/v1/ws`);
    const size = shape.receivers + 1;
    const users = await registerUsers(gwUrls, shape.rooms * size, `p${Date.now().toString(36)}`);
    const made = await createRooms(gwUrls[0] as string, users, size);
    const nodes: Record<string, number> = {};
    for (const [i, w] of stack.gateways.entries()) nodes[`gateway-${"ab"[i]}`] = w.child.pid ?? 0;
    for (const [i, w] of stack.forwarders.entries()) {
      nodes[`forwarder-${"ab"[i]}`] = w.child.pid ?? 0;
    }
    const { kafka, cassandra, redis } = stackPids();
    return {
      name: "switchboard",
      describe: `2 gateways + 2 forwarders (processes), ${partitions} partitions, on the shared Kafka, Cassandra and Redis`,
      nodes,
      backends: {
        ...(kafka === undefined ? {} : { kafka }),
        ...(cassandra === undefined ? {} : { cassandra }),
        ...(redis === undefined ? {} : { redis }),
      },
      rooms: made.map((r) => ({
        id: r.id,
        members: roomSockets(shape, (j, node) => ({
          url: wsUrls[node] as string,
          token: r.members[j]?.accessToken as string,
        })),
      })),
      stop: () => stack.stop(),
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
