// A message is acked and delivered just before the forwarder stores it (docs/decisions/0024), so
// a client can resume from a seq the store's room state does not count yet: the gateway takes
// the resume seq as given and shows nothing twice; and a socket that subscribes after its
// gateway delivered a message the store does not hold yet, or on a gateway the message was
// routed past, still gets it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session } from "../../e2e/testkit/index.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import { MemoryRegistry } from "../shared/backends/registry.memory.ts";
import { REGISTRY_SETTLE_MS } from "../shared/backends/registry.ts";
import type { Store } from "../shared/backends/store.ts";
import type { RoomState } from "../shared/domain.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

describe("resuming ahead of the store's room state", () => {
  let cluster: InProcessCluster;
  let alice: Session;
  let bob: Session;
  let roomId: string;
  /** seqs the room states lag the messages by, as while the last writes are in flight */
  let lag = 0;
  /** history holds no message above this seq, as while its write is in flight */
  let storedUpTo = Number.POSITIVE_INFINITY;

  before(async () => {
    const base = memoryBackends();
    const store = new Proxy(base.store, {
      get: (target, name: keyof Store) => {
        if (name === "roomStates") {
          return async (ids: readonly string[]) => {
            const states = await target.roomStates(ids);
            return new Map(
              [...states].map(([id, s]): [string, RoomState] => [
                id,
                { ...s, lastSeq: Math.max(0, s.lastSeq - lag) },
              ]),
            );
          };
        }
        if (name === "history") {
          return async (...args: Parameters<Store["history"]>) =>
            (await target.history(...args)).filter((m) => m.seq <= storedUpTo);
        }
        const member = target[name];
        return typeof member === "function" ? member.bind(target) : member;
      },
    });
    // the registry's epoch began REGISTRY_SETTLE_MS ago and more: forwarders route by it alone,
    // not to every gateway as while it settles
    const registry = new MemoryRegistry({ now: () => Date.now() - 2 * REGISTRY_SETTLE_MS });
    await base.registry.close();
    cluster = await startCluster({ backends: { ...base, store, registry }, gateways: 2 });
    const rest = new Rest(cluster.urls[0] as string);
    alice = await rest.register("alice");
    bob = await rest.register("bob");
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "ahead", members: [bob.userId] },
      alice.accessToken,
    );
    roomId = room.id;
  });
  after(async () => {
    await cluster.stop();
    await cluster.backends.close();
  });

  it("replays nothing the client has when its resume seq is above the room state", async () => {
    const url = cluster.urls[0] as string;
    const sa = await ChatSocket.open(url, alice.accessToken);
    let sb = await ChatSocket.open(url, bob.accessToken);
    try {
      await sa.sendMessages(roomId, 5, { prefix: "a" });
      const first = await sb.waitForCount((f) => f.type === "message", 5, "messages 1-5");
      assert.deepEqual(
        first.map((f) => f.seq),
        [1, 2, 3, 4, 5],
      );
      await sb.close();
      lag = 3; // the store's room state says 2
      sb = await ChatSocket.open(url, bob.accessToken, { [roomId]: 5 });
      await sa.sendMessages(roomId, 1, { prefix: "b" });
      const after = await sb.waitForCount((f) => f.type === "message", 1, "message 6");
      await sa.waitForCount((f) => f.type === "ack", 6, "acks");
      assert.deepEqual(
        sb.messages(roomId).map((f) => f.seq),
        [6],
        "only what came after the resume seq",
      );
      assert.equal(after[0]?.seq, 6);
    } finally {
      lag = 0;
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  /**
   * Alice (gateway 0) sends five messages while the store holds only the first two of them;
   * bob then resumes on gateway `bobs` from before them. He gets the two, and the other three
   * once their writes land, though no message follows.
   */
  const resumeBeforeWrites = async (bobs: number, prefix: string) => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    let sb: ChatSocket | undefined;
    try {
      const welcome = await sa.waitFor((f) => f.type === "welcome", "welcome");
      const rooms = welcome.rooms as { room_id: string; last_seq: number }[];
      const start = rooms.find((r) => r.room_id === roomId)?.last_seq ?? 0;
      storedUpTo = start + 2; // the last three writes are in flight
      await sa.sendMessages(roomId, 5, { prefix });
      await sa.waitForCount((f) => f.type === "ack", 5, "acks");
      sb = await ChatSocket.open(cluster.urls[bobs] as string, bob.accessToken, {
        [roomId]: start,
      });
      await sb.waitForCount((f) => f.type === "message", 2, "the stored two");
      storedUpTo = Number.POSITIVE_INFINITY; // the writes land
      await sb.waitForCount((f) => f.type === "message", 5, "all five");
      assert.deepEqual(
        sb.messages(roomId).map((f) => f.seq),
        [1, 2, 3, 4, 5].map((i) => start + i),
      );
    } finally {
      storedUpTo = Number.POSITIVE_INFINITY;
      await Promise.all([sa.close(), sb?.close()]);
    }
  };

  it("a socket that subscribes after its gateway delivered a message not yet stored gets it once stored", async () => {
    await resumeBeforeWrites(0, "c");
  });

  it("a socket on a gateway that held no socket of the room gets what was routed past it once stored", async () => {
    // gateway 1 held no socket of the room: the messages were routed to gateway 0 only
    await resumeBeforeWrites(1, "d");
  });
});
