// The client library (workloads/client) on the real stack: two gateway processes and a
// forwarder on Kafka, Cassandra and Redis. A socket that loses its network or its gateway
// (SIGKILL) reconnects to the other gateway, resumes, and delivers each message once and in
// order; a send whose ack was lost is resent with its client_msg_id and stored once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  Api,
  ChatClient,
  type ChatClientOptions,
  type ServerMessageFrame,
  Session,
} from "../../workloads/client/src/index.ts";
import { ChatStack, TcpProxy, uniqueName, waitFor } from "../testkit/index.ts";

describe("the client library on the real stack (2 gateways)", () => {
  let stack: ChatStack;
  let proxy: TcpProxy;
  let alice: Session;
  let bob: Session;
  let roomId: string;
  const clients: ChatClient[] = [];
  const gw = (i: number) => stack.gateways[i]?.url as string;

  /** a client of `who` through the proxy (or straight to gateway 1) */
  const client = (who: Session, o: Partial<ChatClientOptions> & { direct?: boolean } = {}) => {
    const c = new ChatClient({
      url: o.direct ? gw(1) : proxy.url,
      accessToken: (r) => who.accessToken(r),
      backoff: { initialMs: 50, maxMs: 500 },
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
  const texts = (got: ServerMessageFrame[], prefix: string) =>
    got.map((m) => m.content.text ?? "").filter((t) => t.startsWith(prefix));

  before(async () => {
    stack = await ChatStack.start({ gateways: 2, forwarders: 1 });
    proxy = await TcpProxy.start(gw(0));
    const api = new Api({ baseUrl: gw(1) });
    alice = Session.fromAuth(api, await api.register(uniqueName("alice"), "password-123"));
    bob = Session.fromAuth(api, await api.register(uniqueName("bob"), "password-123"));
    roomId = (await alice.createRoom({ kind: "group", name: "team", members: [bob.user.id] })).id;
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy?.stop();
    await stack?.stop();
  });

  it("a send whose ack was lost is resent with its client_msg_id and stored once", async () => {
    proxy.retarget(gw(0));
    const a = client(alice, { direct: true });
    const b = client(bob, { requestTimeoutMs: 1_000, sendAttempts: 100, pingIntervalMs: 0 });
    const got = inbox(a);
    await Promise.all([a.connect(), b.connect()]);
    proxy.silence(true);
    const { clientMsgId, sent } = b.send({ room_id: roomId }, { text: "retry once" });
    await waitFor("alice got it", () =>
      got.some((m) => m.client_msg_id === clientMsgId) ? true : undefined,
    );
    const before = proxy.bytesUp;
    await waitFor("bob resent it", () => (proxy.bytesUp > before ? true : undefined));
    proxy.silence(false);
    proxy.cut();
    const done = await sent;
    const stored = (await alice.history(roomId)).messages.filter(
      (m) => m.client_msg_id === clientMsgId,
    );
    assert.equal(stored.length, 1, "stored once");
    assert.equal(stored[0]?.message_id, done.message_id);
  });

  it("resumes on the other gateway after the network drops and after its gateway is killed: each message once, in order", async () => {
    proxy.retarget(gw(0));
    const a = client(alice, { direct: true });
    const b = client(bob);
    const got = inbox(b);
    await Promise.all([a.connect(), b.connect()]);
    const send = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) await a.send({ room_id: roomId }, { text: `r${i}` }).sent;
    };
    await send(1, 5);
    await waitFor("bob has r1-r5", () => (texts(got, "r").length >= 5 ? true : undefined));

    // the network drops; bob comes back through another gateway
    proxy.silence(true);
    proxy.cut();
    await send(6, 10);
    proxy.retarget(gw(1));
    proxy.silence(false);
    await waitFor("bob has r1-r10", () => (texts(got, "r").length >= 10 ? true : undefined), {
      timeoutMs: 30_000,
    });

    // a socket of bob's on gateway 0, whose process crashes (SIGKILL): it reconnects to the
    // gateway that is left and resumes there
    proxy.retarget(gw(0));
    const d = client(bob);
    const gotD = inbox(d);
    await d.connect();
    proxy.retarget(gw(1));
    await stack.gateways[0]?.kill();
    await send(11, 15);
    await waitFor(
      "the socket of the killed gateway caught up",
      () => (texts(gotD, "r").length >= 5 ? true : undefined),
      { timeoutMs: 30_000 },
    );
    await waitFor("bob has r1-r15", () => (texts(got, "r").length >= 15 ? true : undefined), {
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      texts(got, "r"),
      Array.from({ length: 15 }, (_, i) => `r${i + 1}`),
    );
    assert.deepEqual(texts(gotD, "r"), ["r11", "r12", "r13", "r14", "r15"]);
    const seqs = got.filter((m) => m.content.text?.startsWith("r")).map((m) => m.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
    assert.equal(new Set(seqs).size, 15, "no message twice");
  });
});
