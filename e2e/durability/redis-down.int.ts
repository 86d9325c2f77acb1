// Sends keep being acked while Redis is down (decision 0019): Redis carries the registry and the
// pub/sub deliveries, and without it the forwarder used to fail every batch, so nothing was
// acked until Redis returned. Two gateways and a forwarder on a Redis of their own (never the
// shared one), members online on both gateways; Redis stopped: every send, from either gateway,
// is acked at its first attempt and reaches every online member once, through the Kafka
// deliveries topic, a socket opened meanwhile included; Redis back: deliveries go through
// pub/sub again.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ChatSocket,
  ChatStack,
  type Frame,
  OwnPart,
  Rest,
  type Session,
  waitFor,
} from "../testkit/index.ts";

const text = (t: string) => ({ msg_type: "text", content: { text: t } });

/** The value of a counter on a workload's /metrics (0 while it has none). */
async function counter(url: string, name: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
  const line = body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe("Redis down (own Redis)", () => {
  let redis: OwnPart;
  let stack: ChatStack;

  before(async () => {
    redis = await OwnPart.start("redis");
    stack = await ChatStack.start({
      gateways: 2,
      forwarders: 1,
      env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` },
    });
  });

  after(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it("every send is acked and reaches every online member once while Redis is down, and deliveries return to pub/sub after", async (t) => {
    const gw = (i: number) => stack.gateways[i]?.url as string;
    const forwarder = stack.forwarders[0]?.url as string;
    const rest = new Rest(gw(0));
    const users: Session[] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((n) => rest.register(n)),
    );
    const [alice, bob, carol, dave] = users as [Session, Session, Session, Session];
    const room = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "redis-down", members: [bob.userId, carol.userId, dave.userId] },
      alice.accessToken,
    );
    // alice and bob on gateway 0, carol and dave on gateway 1
    const sockets = await Promise.all([
      ChatSocket.open(gw(0), alice.accessToken),
      ChatSocket.open(gw(0), bob.accessToken),
      ChatSocket.open(gw(1), carol.accessToken),
      ChatSocket.open(gw(1), dave.accessToken),
    ]);
    const [sa, sb, sc, sd] = sockets as [ChatSocket, ChatSocket, ChatSocket, ChatSocket];
    const everyone = [sa, sb, sc, sd];
    /** Sends once (no retry) and waits for every other member to be shown the message. */
    const sendAndDeliver = async (from: ChatSocket, clientMsgId: string): Promise<Frame> => {
      const answer = await from.request({
        type: "message",
        room_id: room.id,
        client_msg_id: clientMsgId,
        ...text(clientMsgId),
      });
      assert.equal(answer.type, "ack", `${clientMsgId} was answered ${JSON.stringify(answer)}`);
      for (const s of everyone.filter((x) => x !== from)) {
        await s.waitFor(
          (f) => f.type === "message" && f.client_msg_id === clientMsgId,
          `${clientMsgId} shown to every other member`,
        );
      }
      return answer;
    };
    const figures: Record<string, number | string> = {};
    try {
      await sendAndDeliver(sa, "before");
      assert.equal(await counter(forwarder, "switchboard_delivery_fallback_payloads_total"), 0);

      await redis.down();
      const down: string[] = [];
      for (let i = 0; i < 6; i++) {
        if (i === 3) {
          // a new socket while Redis is down: its hello is answered, and it gets what follows
          const sb2 = await ChatSocket.open(gw(1), bob.accessToken);
          sockets.push(sb2);
          everyone.push(sb2);
        }
        const from = i % 2 === 0 ? sa : sc; // from either gateway in turn
        const id = `down-${i}`;
        const t0 = Date.now();
        await sendAndDeliver(from, id);
        figures[id] = Date.now() - t0;
        down.push(id);
      }
      assert.ok(
        (await counter(forwarder, "switchboard_delivery_fallback_payloads_total")) >= down.length,
        "the deliveries went through the Kafka topic",
      );
      assert.ok(
        (await counter(forwarder, "switchboard_forwarder_registry_fallbacks_total")) >= 1,
        "the forwarder sent to every gateway when the registry did not answer",
      );
      const ready = await fetch(`${gw(1)}/readyz`, { signal: AbortSignal.timeout(3_000) });
      const body = (await ready.json()) as { checks: Record<string, { detail: string }> };
      figures.gatewayReadyWhileDown = ready.status;
      figures.redisCheck = body.checks.redis?.detail ?? "";

      await redis.up();
      // pub/sub carries the deliveries again once a send no longer goes through Kafka (after
      // the forwarder's next ping and the overlap that gives the gateways time to resubscribe)
      let n = 0;
      const t0 = Date.now();
      await waitFor(
        "a send delivered through pub/sub alone",
        async () => {
          const before = await counter(forwarder, "switchboard_delivery_fallback_payloads_total");
          await sendAndDeliver(n % 2 === 0 ? sb : sd, `after-${n++}`);
          const now = await counter(forwarder, "switchboard_delivery_fallback_payloads_total");
          return now === before ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      figures.pubSubAgainAfterMs = Date.now() - t0;

      // each member was shown each message once (the overlap sent some both ways)
      for (const [i, s] of everyone.entries()) {
        const ids = s.messages(room.id).map((f) => f.client_msg_id as string);
        assert.deepEqual(
          ids.filter((id, k) => ids.indexOf(id) !== k),
          [],
          `member ${i} was shown a message twice`,
        );
        const seqs = s.messages(room.id).map((f) => f.seq as number);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          `member ${i} was shown messages out of order`,
        );
      }
      t.diagnostic(`redis down figures (ms): ${JSON.stringify(figures)}`);
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  });
});
