// The published protocol documents against the running gateway (embedded default): the AsyncAPI
// document it serves, the recorded invalid frames sent over a real socket, and every frame it
// sends in a chat session checked against docs/protocol.schema.json.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { ChatSocket, type Frame, Rest, type Session, waitFor } from "../../e2e/testkit/index.ts";
import { asyncApiDocument } from "../gateway/ws/protocol-docs.ts";
import {
  invalidExpectations,
  invalidFrames,
  protocolValidator,
  validClientFrames,
} from "../shared/protocol/fixtures.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

const fast = { timeoutMs: 15_000, intervalMs: 2 };

describe("the protocol documents on the embedded gateway", () => {
  let cluster: InProcessCluster;
  let url: string;
  let rest: Rest;
  let alice: Session;
  let bob: Session;

  before(async () => {
    // the recorded invalid frames are many frames of one user, each taking a token: a bucket
    // that never runs dry keeps their answers the documented ones, not RATE_LIMITED
    cluster = await startCluster({
      limits: { userRate: { capacity: 10_000, refillPerSecond: 10_000 } },
    });
    url = cluster.urls[0] as string;
    rest = new Rest(url);
    [alice, bob] = await Promise.all([rest.register("alice"), rest.register("bob")]);
  });

  after(async () => {
    await cluster.stop();
  });

  it("serves /asyncapi.json: the generator's document, the same as docs/asyncapi.json", async () => {
    const res = await fetch(`${url}/asyncapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const served = await res.json();
    assert.deepEqual(served, asyncApiDocument());
    const committed = JSON.parse(
      await readFile(new URL("../../docs/asyncapi.json", import.meta.url), "utf8"),
    );
    assert.deepEqual(served, committed);
  });

  it("answers every recorded invalid frame with its documented error or close code; the socket and its neighbour carry on", async () => {
    const expected = invalidExpectations();
    const sa = await ChatSocket.open(url, alice.accessToken);
    const sb = await ChatSocket.open(url, bob.accessToken);
    try {
      const errors = () => sa.frames.filter((f) => f.type === "error");
      for (const f of invalidFrames()) {
        const want = expected[f.name];
        assert.ok(want, f.name);
        if (want.close !== undefined) {
          const s = await ChatSocket.open(url, alice.accessToken);
          s.ws.send(f.bytes, { binary: false });
          const code = await waitFor(`the close after ${f.name}`, () => s.closeCode, fast);
          assert.equal(code, want.close, f.name);
          continue;
        }
        const before = errors().length;
        sa.ws.send(f.bytes, { binary: false });
        const [error] = await waitFor(
          `the error for ${f.name}`,
          () => {
            const e = errors().slice(before);
            return e.length > 0 ? e : undefined;
          },
          fast,
        );
        assert.equal(error?.code, want.code, f.name);
        assert.equal(error?.id, want.id, `${f.name}: echoed id`);
      }
      // a valid frame in a binary WebSocket frame is refused too, with its id
      const ping = validClientFrames().find((f) => f.name === "ping.with-id.json");
      assert.ok(ping);
      const before = errors().length;
      sa.ws.send(ping.bytes, { binary: true });
      const binary = await waitFor("the error for a binary frame", () => errors()[before], fast);
      assert.equal(binary.code, "INVALID_FRAME");
      assert.equal(binary.id, "ping-1");

      assert.equal(sa.closeCode, undefined, "the socket stayed open");
      assert.equal((await sa.request({ type: "ping" })).type, "pong");
      assert.equal((await sb.request({ type: "ping" })).type, "pong");
      assert.deepEqual(
        sb.frames.filter((f) => f.type === "error"),
        [],
        "the neighbour saw nothing of it",
      );
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it("sends only frames that docs/protocol.schema.json accepts, through a whole chat session", async () => {
    const { server } = protocolValidator();
    const sa = await ChatSocket.open(url, alice.accessToken);
    const sb = await ChatSocket.open(url, bob.accessToken);
    try {
      const first = await sa.request({
        type: "message",
        to_user_id: bob.userId,
        client_msg_id: "hello-bob",
        msg_type: "text",
        content: { text: "Hi Bob!" },
      });
      assert.equal(first.type, "ack");
      const roomId = first.room_id as string;
      await sb.waitFor((f) => f.type === "message" && f.room_id === roomId);
      sb.send({ type: "typing", room_id: roomId, state: "start" });
      await sa.waitFor((f) => f.type === "typing");
      sb.send({ type: "seen", room_id: roomId, seq: first.seq });
      await sa.waitFor((f) => f.type === "seen" && f.user_id === bob.userId);
      assert.equal((await sa.request({ type: "presence", room_id: roomId })).type, "presence");
      const channel = await rest.ok(
        "POST",
        "/v1/rooms",
        { kind: "channel", name: "lobby" },
        alice.accessToken,
      );
      assert.equal((await sb.request({ type: "join", room_id: channel.id })).type, "user_joined");
      assert.equal((await sb.request({ type: "leave", room_id: channel.id })).type, "user_left");
      await sa.waitFor((f) => f.type === "user_left");
      const refused = await sa.request({ type: "leave", room_id: roomId });
      assert.equal(refused.type, "error");
      assert.equal((await sa.request({ type: "ping" })).type, "pong");
      await sb.close();
      await sa.waitFor((f) => f.type === "presence" && Array.isArray(f.offline));

      const sent: Frame[] = [...sa.frames, ...sb.frames];
      for (const frame of sent) {
        assert.ok(server(frame), `${JSON.stringify(frame)}: ${JSON.stringify(server.errors)}`);
      }
      const types = new Set(sent.map((f) => f.type));
      for (const t of [
        "welcome",
        "ack",
        "message",
        "typing",
        "seen",
        "presence",
        "user_joined",
        "user_left",
        "error",
        "pong",
      ]) {
        assert.ok(types.has(t), `the session produced a ${t} frame`);
      }
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });
});
