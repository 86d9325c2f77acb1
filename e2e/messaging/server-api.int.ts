// The server API on the real stack: a backend's message posted on gateway A goes through Kafka,
// a forwarder and Cassandra, and reaches a member on gateway B in the room's order with users'
// messages, once, also when the backend sends the same request twice; a disconnect reaches the
// user's socket on the other gateway over Redis.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CloseCodes } from "../../workloads/shared/protocol/close-codes.ts";
import {
  ChatSocket,
  ChatStack,
  type Frame,
  Rest,
  type Session,
  waitFor,
} from "../testkit/index.ts";

const KEY = randomBytes(32).toString("base64url");

describe("the server API on the real stack (2 gateways, 2 forwarders)", () => {
  let stack: ChatStack;
  let a: Rest;
  let b: Rest;
  let alice: Session;
  let bob: Session;

  before(async () => {
    stack = await ChatStack.start({
      gateways: 2,
      forwarders: 2,
      env: { SERVER_API_KEYS: `${randomBytes(32).toString("base64url")},${KEY}` },
    });
    a = new Rest(stack.gateways[0]?.url as string);
    b = new Rest(stack.gateways[1]?.url as string);
    [alice, bob] = await Promise.all([a.register("alice"), a.register("bob")]);
  });

  after(async () => {
    await stack.stop();
  });

  it("a message posted on gateway A is stored in Cassandra and delivered once, in order, to a member on gateway B", async () => {
    const room = await a.call(
      "POST",
      "/v1/server/rooms",
      { kind: "group", name: "alerts", members: [alice.userId, bob.userId] },
      KEY,
    );
    assert.equal(room.status, 201, JSON.stringify(room.body));
    const roomId = room.body.id as string;
    const [sa, sb] = await Promise.all([
      ChatSocket.open(stack.gateways[0]?.url as string, alice.accessToken),
      ChatSocket.open(stack.gateways[1]?.url as string, bob.accessToken),
    ]);
    try {
      await sa.sendMessages(roomId, 2, { prefix: "before" });
      await sa.waitForCount((f) => f.type === "ack" && f.room_id === roomId, 2, "acks");
      const body = {
        idempotency_key: "incident-7",
        sender_id: "bot:pager",
        content: { text: "disk almost full" },
      };
      // the same request twice, as a backend that timed out would send it
      const [first, second] = await Promise.all([
        a.call("POST", `/v1/server/rooms/${roomId}/messages`, body, KEY),
        b.call("POST", `/v1/server/rooms/${roomId}/messages`, body, KEY),
      ]);
      for (const r of [first, second])
        assert.ok(r.status === 201 || r.status === 200, String(r.status));
      assert.equal(first.body.message_id, second.body.message_id);
      assert.equal(first.body.seq, 3, "after the two user messages");
      assert.equal(second.body.seq, 3);
      const replay = await a.call("POST", `/v1/server/rooms/${roomId}/messages`, body, KEY);
      assert.equal(replay.status, 200);
      assert.deepEqual(replay.body, first.body);
      await sa.sendMessages(roomId, 1, { prefix: "after" });

      const got = await sb.waitForCount((f) => f.type === "message" && f.room_id === roomId, 4);
      assert.deepEqual(
        got.map((f) => [f.seq, f.sender_id]),
        [
          [1, alice.userId],
          [2, alice.userId],
          [3, "bot:pager"],
          [4, alice.userId],
        ],
      );
      assert.equal(
        sb.frames.filter((f) => f.message_id === first.body.message_id).length,
        1,
        "bob sees the bot's message once",
      );
      // stored: history (Cassandra) has it once, as the API answered it
      const history = await b.ok(
        "GET",
        `/v1/rooms/${roomId}/messages?limit=100`,
        undefined,
        bob.accessToken,
      );
      const stored = history.messages.filter((m: Frame) => m.client_msg_id === "incident-7");
      assert.deepEqual(stored, [first.body]);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it(`a disconnect asked on gateway A closes the user's socket on gateway B with ${CloseCodes.DISCONNECTED.code}`, async () => {
    const sb = await ChatSocket.open(stack.gateways[1]?.url as string, bob.accessToken);
    try {
      const r = await a.call("POST", `/v1/server/users/${bob.userId}/disconnect`, undefined, KEY);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.gateways, 1);
      const code = await waitFor("bob's socket closed", () => sb.closeCode, { timeoutMs: 15_000 });
      assert.equal(code, CloseCodes.DISCONNECTED.code);
    } finally {
      await sb.close();
    }
  });
});
