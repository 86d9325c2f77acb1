// Socket.IO in bench/peers: two nodes (bench/peers/socketio-node.ts, Socket.IO 4 with
// @socket.io/redis-adapter) on a private Redis.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Workload } from "../../e2e/testkit/index.ts";
import { type RoomShape, type Running, roomSockets } from "./system.ts";

const version = (pkg: string): string =>
  JSON.parse(
    readFileSync(
      fileURLToPath(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url)),
      "utf8",
    ),
  ).version;

export async function startSocketIo(
  shape: RoomShape,
  redis: { url: string; pid: number },
  ports: readonly [number, number],
): Promise<Running> {
  const key = `peers-${Date.now().toString(36)}`;
  const nodes: Workload[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      nodes.push(
        await Workload.start(`socketio-${"ab"[i]}`, "bench/peers/socketio-node.ts", {
          PORT: String(port),
          REDIS_URL: redis.url,
          SOCKETIO_KEY: key,
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    throw err;
  }
  const urls = nodes.map((n) => n.url.replace(/^http/, "ws"));
  return {
    name: "socketio",
    describe: `Socket.IO ${version("socket.io")} + @socket.io/redis-adapter ${version("@socket.io/redis-adapter")}, 2 nodes (processes), a private Redis; rooms by socket.join, a send is an emit to the room with an ack`,
    nodes: Object.fromEntries(nodes.map((n) => [n.name, n.child.pid ?? 0])),
    backends: { redis: redis.pid },
    rooms: Array.from({ length: shape.rooms }, (_, r) => ({
      id: `room-${r}`,
      members: roomSockets(shape, (_j, node) => ({
        url: urls[node] as string,
        wire: "socketio",
        token: "",
      })),
    })),
    stop: async () => {
      await Promise.allSettled(nodes.map((n) => n.stop()));
    },
  };
}
