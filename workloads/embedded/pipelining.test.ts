// A socket's sends are pipelined into the bus: the gateway hands a socket's next message to the
// producer while the previous one's produce is still in flight, and the room's order is the
// order the socket sent them in.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, type Session } from "../../e2e/testkit/index.ts";
import { waitFor } from "../../e2e/testkit/wait.ts";
import type { Bus, BusRecord } from "../shared/backends/bus.ts";
import { memoryBackends } from "../shared/backends/connect.ts";
import { decodeBusEvent } from "../shared/events.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

/** The memory bus, except that while `held` its publishes wait (in order) for release(). */
function holdingBus(inner: Bus) {
  const state = {
    held: false,
    /** client_msg_ids of the messages handed to publish(), in call order */
    handed: [] as string[],
    gate: Promise.withResolvers<void>(),
    release(): void {
      state.held = false;
      state.gate.resolve();
    },
  };
  let tail = Promise.resolve();
  const bus = new Proxy(inner, {
    get: (target, name: keyof Bus) => {
      if (name === "publish") {
        return (topic: string, records: readonly BusRecord[]) => {
          for (const r of records) {
            const e = decodeBusEvent(r.value);
            if (e?.kind === "message") state.handed.push(e.clientMsgId);
          }
          const wait = state.held ? state.gate.promise : Promise.resolve();
          const sent = tail.then(() => wait).then(() => target.publish(topic, records));
          tail = sent.catch(() => undefined);
          return sent;
        };
      }
      const member = target[name];
      return typeof member === "function" ? member.bind(target) : member;
    },
  });
  return { bus, state };
}

describe("a socket's sends, pipelined into the bus", () => {
  let cluster: InProcessCluster;
  let held: ReturnType<typeof holdingBus>["state"];
  let alice: Session;
  let roomId: string;

  before(async () => {
    const base = memoryBackends();
    const { bus, state } = holdingBus(base.bus);
    held = state;
    cluster = await startCluster({ backends: { ...base, bus } });
    const rest = new Rest(cluster.urls[0] as string);
    alice = await rest.register("alice");
    roomId = (
      await rest.ok("POST", "/v1/rooms", { kind: "group", name: "pipe" }, alice.accessToken)
    ).id;
  });
  after(async () => {
    await cluster.stop();
    await cluster.backends.close();
  });

  it("hands the next message to the producer while one is in flight, and keeps their order", async () => {
    const sa = await ChatSocket.open(cluster.urls[0] as string, alice.accessToken);
    try {
      held.held = true;
      const sends = ["p1", "p2", "p3"].map((c) => ({
        type: "message",
        room_id: roomId,
        client_msg_id: c,
        msg_type: "text",
        content: { text: c },
      }));
      for (const s of sends) sa.send(s);
      await waitFor(`all three handed to the producer while the first is held`, () =>
        held.handed.length === 3 ? true : undefined,
      );
      assert.deepEqual(held.handed, ["p1", "p2", "p3"]);
      assert.equal(
        sa.frames.filter((f) => f.type === "ack").length,
        0,
        "no ack before the bus acknowledged",
      );
      held.release();
      const acks = await sa.waitForCount((f) => f.type === "ack", 3, "acks");
      assert.deepEqual(
        acks.map((f) => [f.client_msg_id, f.seq]),
        [
          ["p1", 1],
          ["p2", 2],
          ["p3", 3],
        ],
      );
    } finally {
      await sa.close();
    }
  });
});
