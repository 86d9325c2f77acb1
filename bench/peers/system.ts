// A system bench/peers drives: started for the run, its rooms laid out the same way for all, its
// processes named for the CPU figures, stopped at the end.
import type { RoomSpec } from "../loadgen/generator.ts";
import type { SocketSpec } from "../loadgen/protocol.ts";

export type SystemName = "switchboard" | "centrifugo" | "socketio";

export interface RoomShape {
  readonly rooms: number;
  /** receivers per room, split over both nodes; the room's one sender is on the first */
  readonly receivers: number;
}

export interface Running {
  readonly name: SystemName;
  /** what runs: versions and processes, for the results */
  readonly describe: string;
  /** the processes that serve sockets (gateways, forwarders, nodes) by name */
  readonly nodes: Record<string, number>;
  /** the backends they use (Kafka, Cassandra, Redis) by name */
  readonly backends: Record<string, number>;
  readonly rooms: readonly RoomSpec[];
  stop(): Promise<void>;
}

/**
 * The sockets of room `r`: member 0 sends, on node 0; members 1..receivers receive, member j on
 * node j % 2. `member(j, node)` gives the socket's URL and credential.
 */
export function roomSockets(
  shape: RoomShape,
  member: (j: number, node: number) => Omit<SocketSpec, "gw" | "sender" | "room">,
): Omit<SocketSpec, "room">[] {
  return Array.from({ length: shape.receivers + 1 }, (_, j) => {
    const node = j === 0 ? 0 : j % 2;
    return { ...member(j, node), gw: node, ...(j === 0 ? { sender: true } : {}) };
  });
}
