// Notifications on the real stack (Kafka, Cassandra, Redis; gateway, forwarder and notifier as
// processes): a user offline during four messages — one direct, one mentioning them, one in a
// room they muted, one replying to their earlier message (and mentioning them too) — finds
// exactly three notifications on return (direct, mention, reply), and none twice after the
// forwarder and the notifier are SIGKILLed; back online, reading one elsewhere sends his socket
// the new unread count (through the real delivery path). The notifier's crash is made to lose its commits too
// (its group's offsets are reset to the start while it is dead), so its replacement handles
// every message again: the worst replay a crash can cause.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { notifierGroupOf } from "#contract/settings";
import { ChatSocket, ChatStack, Rest, type Session, waitFor } from "../testkit/index.ts";

const text = (t: string) => ({ msg_type: "text", content: { text: t } });

describe("notifications on the real stack", () => {
  let stack: ChatStack;
  let kafka: Kafka;

  before(async () => {
    stack = await ChatStack.start({ gateways: 1, forwarders: 1, notifiers: 1 });
    kafka = new Kafka({
      clientId: "notifications-test",
      brokers: [...stack.backends.kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
  });

  after(async () => {
    await stack?.stop();
  });

  /** Resolves once the notifier group has committed every record of the messages topic. */
  async function notifierCaughtUp(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    let last = "";
    try {
      await waitFor(
        "the notifier group to commit the end of the topic",
        async () => {
          const [ends, committed] = await Promise.all([
            admin.fetchTopicOffsets(stack.topic),
            admin.fetchOffsets({ groupId: notifierGroupOf(stack.cluster), topics: [stack.topic] }),
          ]);
          const at = new Map(
            committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? [],
          );
          // a partition without records has nothing to commit
          const done = (e: { partition: number; high: string; low: string }) =>
            e.high === e.low || (at.get(e.partition) ?? -1) >= Number(e.high);
          last = JSON.stringify({ ends, committed });
          return ends.every(done) ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; offsets: ${last}`);
    } finally {
      await admin.disconnect();
    }
  }

  /** Sets the (dead, so empty) notifier group back to the start of the topic. */
  async function forgetNotifierCommits(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      // the killed member stays in the group until its session times out
      await waitFor(
        "the notifier group to be empty and reset",
        async () => {
          try {
            await admin.resetOffsets({
              groupId: notifierGroupOf(stack.cluster),
              topic: stack.topic,
              earliest: true,
            });
            return true;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    } finally {
      await admin.disconnect();
    }
  }

  it("an offline user finds exactly three notifications (direct, mention, reply; none from a muted room), none twice after crashes", async () => {
    const gateway = stack.gateways[0];
    assert.ok(gateway);
    const rest = new Rest(gateway.url);
    const [ann, ben, dan] = await Promise.all([
      rest.register("ann"),
      rest.register("ben"),
      rest.register("dan"),
    ]);
    const list = (s: Session) =>
      rest.okRetrying("GET", "/v1/notifications?limit=100", undefined, s.accessToken);
    const team = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "team", members: [ben.userId] },
      ann.accessToken,
    );
    const noisy = await rest.ok(
      "POST",
      "/v1/rooms",
      { kind: "group", name: "noisy", members: [ben.userId, dan.userId] },
      ann.accessToken,
    );
    await rest.ok("PUT", `/v1/rooms/${noisy.id}/mute`, undefined, ben.accessToken);

    // ben asks something in the team room, then goes offline
    const bens = await ChatSocket.open(gateway.url, ben.accessToken);
    const question = await bens.request({
      type: "message",
      room_id: team.id,
      client_msg_id: "question",
      ...text("shall we ship on friday?"),
    });
    assert.equal(question.type, "ack", JSON.stringify(question));
    await bens.close();
    let sender = await ChatSocket.open(gateway.url, ann.accessToken);
    await waitFor("ben to be offline", async () => {
      const p = await sender.request({ type: "presence", room_id: team.id });
      return (p.online as string[]).includes(ben.userId) ? undefined : true;
    });
    const direct = await sender.request({
      type: "message",
      to_user_id: ben.userId,
      client_msg_id: "direct",
      ...text("ben, are you there?"),
    });
    assert.equal(direct.type, "ack", JSON.stringify(direct));
    const mention = await sender.request({
      type: "message",
      room_id: team.id,
      client_msg_id: "mention",
      ...text("@ben please look at this"),
    });
    assert.equal(mention.type, "ack", JSON.stringify(mention));

    // the forwarder crashes between the messages; a new one takes over
    await stack.forwarders[0]?.kill();
    await stack.startForwarder();
    await sender.close();
    sender = await ChatSocket.open(gateway.url, ann.accessToken);
    // a reply to ben's question that also names him: one notification, a reply
    const reply = await sender.request(
      {
        type: "message",
        room_id: team.id,
        client_msg_id: "reply",
        reply_to: question.seq,
        ...text("@ben yes, friday it is"),
      },
      60_000,
    );
    assert.equal(reply.type, "ack", JSON.stringify(reply));
    const muted = await sender.request(
      { type: "message", room_id: noisy.id, client_msg_id: "muted", ...text("@ben muted room") },
      60_000,
    );
    assert.equal(muted.type, "ack", JSON.stringify(muted));
    // dan's mention follows ben's muted one in the same room, so in the same partition
    const sentinel = await sender.request({
      type: "message",
      room_id: noisy.id,
      client_msg_id: "sentinel",
      ...text("@dan you too"),
    });
    assert.equal(sentinel.type, "ack", JSON.stringify(sentinel));
    await sender.close();

    await waitFor("ben's three notifications and dan's one", async () => {
      const [b, d] = await Promise.all([list(ben), list(dan)]);
      return b.notifications.length >= 3 && d.notifications.length >= 1 ? true : undefined;
    });

    // the notifier crashes, and its commits are lost with it: everything is handled again
    await stack.notifiers[0]?.kill();
    await forgetNotifierCommits();
    await stack.startNotifier();
    await notifierCaughtUp();

    const got = await list(ben);
    assert.deepEqual(
      got.notifications
        .map((n: { id: string; kind: string; room_id: string }) => [n.id, n.kind, n.room_id])
        .sort(),
      [
        [direct.message_id, "direct", direct.room_id],
        [mention.message_id, "mention", team.id],
        [reply.message_id, "reply", team.id],
      ].sort(),
    );
    assert.equal(got.unread, 3);
    assert.deepEqual(
      (await list(dan)).notifications.map((n: { id: string }) => n.id),
      [sentinel.message_id],
    );
    // ben returns: the unread count comes with welcome, and follows what he reads elsewhere
    const back = await ChatSocket.open(gateway.url, ben.accessToken);
    try {
      const welcome = back.frames.find((f) => f.type === "welcome");
      assert.equal(welcome?.unread_notifications, 3);
      await rest.ok(
        "POST",
        `/v1/notifications/${reply.message_id}/read`,
        undefined,
        ben.accessToken,
      );
      await back.waitFor((f) => f.type === "notifications" && f.unread === 2, "the new count");
    } finally {
      await back.close();
    }
  });
});
