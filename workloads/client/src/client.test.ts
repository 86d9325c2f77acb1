// The client library against the embedded gateway (two gateways, memory backends), reached
// through a TCP proxy the tests break: reconnect and resume lose nothing and repeat nothing,
// an unacknowledged send is retried with its client_msg_id and stored once, requests time out.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TcpProxy, waitFor } from "../../../e2e/testkit/index.ts";
import { type InProcessCluster, startCluster } from "../../embedded/cluster.ts";
import {
  Api,
  ChatClient,
  type ChatClientOptions,
  ClientError,
  type ServerMessageFrame,
  Session,
  type StateChange,
} from "./index.ts";

const FAST = { backoff: { initialMs: 20, maxMs: 200 } } as const;

describe("ChatClient on the embedded gateway", () => {
  let cluster: InProcessCluster;
  let proxy: TcpProxy;
  let alice: Session;
  let bob: Session;
  let roomId: string;
  const clients: ChatClient[] = [];

  /** a client of `who`, through the proxy unless `direct` */
  const client = (who: Session, o: Partial<ChatClientOptions> & { direct?: boolean } = {}) => {
    const c = new ChatClient({
      url: o.direct ? (cluster.urls[1] as string) : proxy.url,
      accessToken: (r) => who.accessToken(r),
      ...FAST,
      ...o,
    });
    clients.push(c);
    return c;
  };
  const inbox = (c: ChatClient) => {
    const got: ServerMessageFrame[] = [];
    c.on("message", (m) => got.push(m));
    return got;
  };

  before(async () => {
    cluster = await startCluster({ gateways: 2 });
    proxy = await TcpProxy.start(cluster.urls[0] as string);
    const api = new Api({ baseUrl: cluster.urls[0] as string });
    const suffix = Math.random().toString(36).slice(2, 8);
    alice = Session.fromAuth(api, await api.register(`alice_${suffix}`, "password-123"));
    bob = Session.fromAuth(api, await api.register(`bob_${suffix}`, "password-123"));
    roomId = (await alice.createRoom({ kind: "group", name: "team", members: [bob.user.id] })).id;
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy.stop();
    await cluster.stop();
  });

  it("resumes after the network drops: what was sent meanwhile arrives once, in order, from another gateway", async () => {
    proxy.retarget(cluster.urls[0] as string);
    const a = client(alice, { direct: true });
    const b = client(bob);
    const states: StateChange[] = [];
    b.on("state", (s) => states.push(s));
    const got = inbox(b);
    await Promise.all([a.connect(), b.connect()]);
    for (let i = 1; i <= 3; i++) await a.send({ room_id: roomId }, { text: `m${i}` }).sent;
    await waitFor("bob has the first three", () => (got.length >= 3 ? true : undefined));

    proxy.retarget(cluster.urls[1] as string);
    proxy.silence(true); // no way back in while alice sends
    proxy.cut();
    await waitFor("bob reconnecting", () => (b.state === "reconnecting" ? true : undefined));
    for (let i = 4; i <= 8; i++) await a.send({ room_id: roomId }, { text: `m${i}` }).sent;
    proxy.silence(false);

    await waitFor("bob has all eight", () => (got.length >= 8 ? true : undefined), {
      timeoutMs: 10_000,
    });
    assert.deepEqual(
      got.map((m) => m.content.text),
      ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"],
    );
    const first = got[0]?.seq ?? 0;
    assert.deepEqual(
      got.map((m) => m.seq),
      Array.from({ length: 8 }, (_, i) => first + i),
    );
    assert.equal(new Set(got.map((m) => m.message_id)).size, 8, "no message twice");
    assert.ok(states.some((s) => s.state === "reconnecting" && s.closeCode === 1006));
    assert.equal(b.state, "open");
    assert.equal(b.cursors()[roomId], first + 7);
  });

  it("replays from the cursors it is given, and each message once", async () => {
    const history = await bob.history(roomId);
    const last = history.messages.at(-1)?.seq ?? 0;
    const c = client(bob, { cursors: { [roomId]: last - 2 }, direct: true });
    const got = inbox(c);
    await c.connect();
    await waitFor("the last two replayed", () => (got.length >= 2 ? true : undefined));
    assert.deepEqual(
      got.map((m) => m.seq),
      [last - 1, last],
    );
  });

  it("resends an unacknowledged message with the same client_msg_id: stored once, the send resolves", async () => {
    proxy.retarget(cluster.urls[0] as string);
    const a = client(alice, { direct: true });
    const b = client(bob, { requestTimeoutMs: 200, sendAttempts: 100, pingIntervalMs: 0 });
    const got = inbox(a);
    await Promise.all([a.connect(), b.connect()]);

    proxy.silence(true); // bob's frames reach the gateway; its answers (the ack) do not
    const { clientMsgId, sent } = b.send({ room_id: roomId }, { text: "only once" });
    await waitFor("alice got it", () =>
      got.some((m) => m.client_msg_id === clientMsgId) ? true : undefined,
    );
    const before = proxy.bytesUp;
    await waitFor("bob resent it", () => (proxy.bytesUp > before ? true : undefined));
    assert.deepEqual(b.unacknowledged(), [clientMsgId]);
    proxy.silence(false);
    proxy.cut(); // bob reconnects and resends (or finds it in the replay)

    const done = await sent;
    assert.equal(done.client_msg_id, clientMsgId);
    assert.deepEqual(b.unacknowledged(), []);
    const stored = (await alice.history(roomId)).messages.filter(
      (m) => m.client_msg_id === clientMsgId,
    );
    assert.equal(stored.length, 1, "the message is stored once");
    assert.equal(stored[0]?.message_id, done.message_id);
    assert.equal(got.filter((m) => m.client_msg_id === clientMsgId).length, 1);
  });

  it("rejects a request that gets no answer with TIMEOUT, and serves requests again after a reconnect", async () => {
    proxy.retarget(cluster.urls[0] as string);
    const b = client(bob, { requestTimeoutMs: 300, pingIntervalMs: 0 });
    await b.connect();
    proxy.silence(true);
    await assert.rejects(b.presence(roomId), (e: ClientError) => e.code === "TIMEOUT");
    proxy.silence(false);
    proxy.cut();
    const answer = await b.presence(roomId);
    assert.ok(answer.online.includes(bob.user.id));
  });

  it("drops a connection that stops answering pings and reconnects by itself", async () => {
    const b = client(bob, { requestTimeoutMs: 200, pingIntervalMs: 100 });
    await b.connect();
    const accepted = proxy.accepted;
    proxy.silence(true);
    await waitFor("bob noticed", () => (b.state !== "open" ? true : undefined));
    proxy.silence(false);
    await waitFor("bob back", () => (b.state === "open" ? true : undefined));
    assert.ok(proxy.accepted > accepted);
  });

  it("rejects a send the gateway refuses for good with its code; the same client_msg_id sent again later is stored once", async () => {
    const closed = await alice.createRoom({ kind: "group", name: "later" });
    const b = client(bob, { direct: true });
    await b.connect();
    const first = b.send({ room_id: closed.id }, { text: "let me in" });
    await assert.rejects(first.sent, (e: ClientError) => e.code === "NOT_A_MEMBER" && !e.retriable);
    assert.deepEqual(b.unacknowledged(), []);
    await alice.addMember(closed.id, bob.user.id);
    const again = await b.send(
      { room_id: closed.id },
      { text: "let me in" },
      { clientMsgId: first.clientMsgId },
    ).sent;
    const twice = await b.send(
      { room_id: closed.id },
      { text: "let me in" },
      { clientMsgId: first.clientMsgId },
    ).sent;
    assert.equal(twice.message_id, again.message_id);
    const stored = (await alice.history(closed.id)).messages;
    assert.deepEqual(
      stored.map((m) => m.client_msg_id),
      [first.clientMsgId],
    );
  });

  it("sends a reply with replyTo; the answered seq comes back on the message and in history, a seq the room lacks is refused", async () => {
    const room = await alice.createRoom({ kind: "group", name: "threads", members: [bob.user.id] });
    const a = client(alice, { direct: true });
    const b = client(bob, { direct: true });
    const got = inbox(a);
    await Promise.all([a.connect(), b.connect()]);
    const first = await a.send({ room_id: room.id }, { text: "lunch?" }).sent;
    const reply = await b.send({ room_id: room.id }, { text: "yes" }, { replyTo: first.seq }).sent;
    await waitFor("bob's reply at alice", () =>
      got.some((m) => m.message_id === reply.message_id) ? true : undefined,
    );
    assert.equal(got.find((m) => m.message_id === reply.message_id)?.reply_to, first.seq);
    const stored = (await alice.history(room.id)).messages;
    assert.deepEqual(
      stored.map((m) => m.reply_to),
      [undefined, first.seq],
    );
    const wrong = b.send({ room_id: room.id }, { text: "?" }, { replyTo: reply.seq + 1 });
    await assert.rejects(
      wrong.sent,
      (e: ClientError) => e.code === "REPLY_TO_NOT_FOUND" && !e.retriable,
    );
  });

  it("opens one socket however often connect() is called, and resolves at once when open", async () => {
    // a proxy of its own: the earlier tests' clients may still reconnect through the shared one
    const own = await TcpProxy.start(cluster.urls[0] as string);
    try {
      const b = client(bob, { url: own.url });
      const [w1, w2] = await Promise.all([b.connect(), b.connect()]);
      assert.equal(w1, w2);
      assert.equal(await b.connect(), w1);
      b.setOnline(true); // already open: nothing to do
      assert.equal(own.accepted, 1);
      b.close();
    } finally {
      await own.stop();
    }
  });

  it("asks for a fresh token when the gateway refused the last one", async () => {
    const asked: boolean[] = [];
    const c = client(bob, {
      accessToken: async ({ refresh }) => {
        asked.push(refresh);
        return refresh ? bob.accessToken({ refresh: true }) : "not-a-token";
      },
    });
    const welcome = await c.connect();
    assert.equal(welcome.user_id, bob.user.id);
    assert.deepEqual(asked, [false, true]);
  });

  it("stops for good when the session is revoked (4005), failing what is pending", async () => {
    const api = new Api({ baseUrl: cluster.urls[0] as string });
    const carol = Session.fromAuth(api, await api.register(`carol_${Date.now()}`, "password-123"));
    const c = client(carol, { direct: true });
    await c.connect();
    await carol.logout();
    await waitFor("closed", () => (c.state === "closed" ? true : undefined));
    await assert.rejects(c.send({ room_id: roomId }, { text: "x" }).sent, ClientError);
  });
});
