// Routing survives a registry loss: the registry (which gateway holds which room) lives in
// Redis without persistence, so a Redis restart empties it. Two gateways and a forwarder on a
// Redis of their own (never the shared one); members online on both gateways; Redis restarted
// with its data lost; one message sent after the restart must reach every online member within
// a deadline, with no further message to reveal the gap.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, ChatStack, OwnPart, Rest, type Session } from "../testkit/index.ts";

/**
 * "A few seconds": one epoch check (1 s), one registration, one catch-up read. The bound is
 * sized for a 2-core CI machine running four integration files at once (8 s was missed there
 * at load average 16). Before the registry epoch the message never arrived without a further
 * message, however long one waited, so the bound still tells the two apart.
 */
const DEADLINE_MS = 20_000;
const text = (t: string) => ({ msg_type: "text", content: { text: t } });

describe("Redis restart (own Redis)", () => {
  let redis: OwnPart;
  let stack: ChatStack;

  before(async () => {
    redis = await OwnPart.start("redis");
    stack = await ChatStack.start({
      gateways: 2,
      forwarders: 1,
      // the registry's own heartbeat is slow, as in production: recovery must not wait for it
      env: { REDIS_URL: `redis://127.0.0.1:${redis.port}`, REGISTRY_TTL_MS: "30000" },
    });
  });

  after(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it("an online member gets a message sent after a Redis restart within seconds, with no further message", async () => {
    const rest = new Rest(stack.gateways[0]?.url as string);
    const users: Session[] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((n) => rest.register(n)),
    );
    const [alice, bob, carol, dave] = users as [Session, Session, Session, Session];
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "restart", members: [bob.userId, carol.userId, dave.userId] },
      alice.accessToken,
    );
    const gw = (i: number) => stack.gateways[i]?.url as string;
    const sockets = await Promise.all([
      ChatSocket.open(gw(0), alice.accessToken),
      ChatSocket.open(gw(0), bob.accessToken),
      ChatSocket.open(gw(1), carol.accessToken),
      ChatSocket.open(gw(1), dave.accessToken),
    ]);
    const [sa, ...receivers] = sockets;
    try {
      const before = await sa?.request({
        type: "message",
        room_id: room.id,
        client_msg_id: "before-restart",
        ...text("before"),
      });
      assert.equal(before?.type, "ack");
      for (const s of receivers) {
        await s.waitFor((f) => f.type === "message" && f.seq === before?.seq, "the first message");
      }

      await redis.kill();
      await redis.up(); // no persistence: the registry is gone

      // the sender retries until the rate limiter (also on Redis) lets the send through
      let ack: Awaited<ReturnType<ChatSocket["request"]>> | undefined;
      for (let attempt = 0; attempt < 20 && ack?.type !== "ack"; attempt++) {
        ack = await sa?.request(
          { type: "message", room_id: room.id, client_msg_id: "after-restart", ...text("after") },
          DEADLINE_MS,
        );
        if (ack?.type !== "ack") await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(ack?.type, "ack", `the send after the restart was answered ${ack?.type}`);
      const sentAt = Date.now();
      const missing: string[] = [];
      await Promise.all(
        receivers.map(async (s, i) => {
          try {
            await s.waitFor(
              (f) => f.type === "message" && f.client_msg_id === "after-restart",
              "the message sent after the restart",
              DEADLINE_MS,
            );
          } catch {
            missing.push(["bob", "carol", "dave"][i] as string);
          }
        }),
      );
      assert.deepEqual(
        missing,
        [],
        `online members without the message ${Date.now() - sentAt} ms after its ack`,
      );
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  });
});
