// The notifier's decisions, on the memory backends: batches handed to it directly, as the bus
// hands them (again, after a crash or a rebalance).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { createLogger } from "#contract/telemetry/log";
import { waitFor } from "../../e2e/testkit/wait.ts";
import { MemoryBus } from "../shared/backends/bus.memory.ts";
import { MemoryDelivery } from "../shared/backends/delivery.memory.ts";
import { MemoryNotificationStore } from "../shared/backends/notifications.memory.ts";
import { MemoryRegistry } from "../shared/backends/registry.memory.ts";
import type { Registry } from "../shared/backends/registry.ts";
import { MemoryStore } from "../shared/backends/store.memory.ts";
import type { RoomKind } from "../shared/domain.ts";
import { type BusEvent, encode } from "../shared/events.ts";
import { createMetrics } from "../shared/telemetry/metrics.ts";
import { MAX_MENTIONS, mentionedNames, Notifier, type NotifierOptions } from "./notifier.ts";

type MessageEvent = Extract<BusEvent, { kind: "message" }>;

const batch = (...events: BusEvent[]) => ({
  topic: "t",
  partition: 0,
  records: events.map((e, i) => ({ key: "k", value: encode(e), headers: {}, offset: String(i) })),
});

async function setup(
  registry: Pick<Registry, "onlineUsers" | "gatewaysForUser"> = new MemoryRegistry(),
  /** what the notifier reads the store through (default: the store itself) */
  through: (store: MemoryStore) => NotifierOptions["store"] = (store) => store,
) {
  const store = new MemoryStore();
  const notifications = new MemoryNotificationStore();
  const metrics = createMetrics({ defaultMetrics: false });
  const delivery = new MemoryDelivery();
  const notifier = new Notifier({
    bus: new MemoryBus(),
    store: through(store),
    registry,
    delivery,
    notifications,
    topic: "t",
    groupId: "g",
    log: createLogger("notifier-test", "silent"),
    metrics,
    storeLagMs: 50,
  });
  const users = new Map<string, string>();
  for (const name of ["ann", "ben", "cat"]) {
    const id = randomUUID();
    users.set(name, id);
    await store.createUser({
      id,
      username: name,
      displayName: name,
      passwordHash: "x",
      createdAt: new Date(),
    });
  }
  const user = (name: string) => users.get(name) as string;
  const room = async (kind: RoomKind, members: string[]) => {
    const id = randomUUID();
    await store.createRoom(
      {
        id,
        kind,
        name: kind === "direct" ? null : "r",
        createdBy: user("ann"),
        createdAt: new Date(),
      },
      members.map((m) => ({ roomId: id, userId: user(m), role: "member", joinedAt: new Date() })),
    );
    return id;
  };
  const message = (roomId: string, text: string, sender = "ann"): MessageEvent => ({
    kind: "message",
    id: randomUUID(),
    roomId,
    senderId: user(sender),
    clientMsgId: randomUUID(),
    msgType: "text",
    content: { text },
    sentAt: new Date().toISOString(),
  });
  /** stores the room's message at seq, by `sender` (a name, or a server sender as it is) */
  const stored = async (roomId: string, seq: number, sender: string) => {
    await store.persistMessage({
      roomId,
      seq,
      id: randomUUID(),
      senderId: users.get(sender) ?? sender,
      clientMsgId: randomUUID(),
      msgType: "text",
      content: { text: `message ${seq}` },
      createdAt: new Date(),
    });
  };
  const reply = (roomId: string, replyTo: number, text: string, sender = "ann"): MessageEvent => ({
    ...message(roomId, text, sender),
    replyTo,
  });
  return { notifier, notifications, metrics, delivery, user, room, message, stored, reply };
}

describe("mentionedNames", () => {
  it("finds each @username once, not inside an address, and tries a name without its full stop", () => {
    assert.deepEqual(mentionedNames("@ann hi @ben.x and mail ann@example.org, @ann again"), [
      "ann",
      "ben.x",
    ]);
    assert.deepEqual(mentionedNames("thanks @cat."), ["cat.", "cat"]);
    assert.deepEqual(mentionedNames("@ab is too short, @@ben is not a mention"), []);
    const many = Array.from({ length: 50 }, (_, i) => `@user${i}`).join(" ");
    assert.equal(mentionedNames(many).length, MAX_MENTIONS);
  });
});

describe("Notifier", () => {
  it("notifies the offline member of a direct room and mentioned offline members, never the sender", async () => {
    const t = await setup();
    const direct = await t.room("direct", ["ann", "ben"]);
    const group = await t.room("group", ["ann", "ben", "cat"]);
    const a = t.message(direct, "hi");
    const b = t.message(group, "@ben @cat @ann @nobody");
    const c = t.message(group, "plain text");
    await t.notifier.handleBatch(batch(a, b, c));
    const ben = await t.notifications.list(t.user("ben"), { limit: 10 });
    assert.deepEqual(
      ben.items.map((n) => [n.messageId, n.kind]).sort(),
      [
        [a.id, "direct"],
        [b.id, "mention"],
      ].sort(),
    );
    const cat = await t.notifications.list(t.user("cat"), { limit: 10 });
    assert.deepEqual(
      cat.items.map((n) => n.messageId),
      [b.id],
    );
    assert.deepEqual((await t.notifications.list(t.user("ann"), { limit: 10 })).items, []);
  });

  it("a reply notifies the offline author of the message it answers, once, and beats a mention", async () => {
    const registry = new MemoryRegistry();
    const t = await setup(registry);
    const group = await t.room("group", ["ann", "ben", "cat"]);
    await t.stored(group, 1, "ben");
    await t.stored(group, 2, "cat");
    await t.stored(group, 3, "ann");
    await t.stored(group, 4, "system");
    const toBen = t.reply(group, 1, "yes, @ben and @cat");
    const toSelf = t.reply(group, 3, "and one more thing");
    const toSystem = t.reply(group, 4, "noted");
    const toNothing = t.reply(group, 99, "a seq the room does not have");
    await t.notifier.handleBatch(batch(toBen, toSelf, toSystem, toNothing, toBen));
    const ben = await t.notifications.list(t.user("ben"), { limit: 10 });
    assert.deepEqual(
      ben.items.map((n) => [n.messageId, n.kind]),
      [[toBen.id, "reply"]],
      "one reply notification, though the reply also mentions ben and came twice",
    );
    const cat = await t.notifications.list(t.user("cat"), { limit: 10 });
    assert.deepEqual(
      cat.items.map((n) => [n.messageId, n.kind]),
      [[toBen.id, "mention"]],
    );
    assert.equal(await t.notifications.unreadCount(t.user("ann")), 0, "never the sender");

    // online, muted, or gone from the room: none
    await registry.markOnline("gw-1", [t.user("cat")], 60_000);
    await t.notifications.mute(t.user("ben"), group);
    await t.notifier.handleBatch(batch(t.reply(group, 1, "muted"), t.reply(group, 2, "online")));
    await t.notifications.unmute(t.user("ben"), group);
    const left = await t.room("group", ["ann"]);
    await t.stored(left, 1, "ben");
    await t.notifier.handleBatch(batch(t.reply(left, 1, "ben left this room")));
    assert.equal(await t.notifications.unreadCount(t.user("ben")), 1);
    assert.equal(await t.notifications.unreadCount(t.user("cat")), 1);
  });

  it("a reply that arrives before the message it answers is stored still notifies its author", async () => {
    // the forwarder acks a message just before its write (decision 0024): the first read of
    // the answered message misses it, as when the reply came at once
    let misses = 1;
    const lagging = (store: MemoryStore): NotifierOptions["store"] =>
      new Proxy(store, {
        get: (target, name: keyof MemoryStore) => {
          if (name === "messageAt") {
            return async (roomId: string, seq: number) =>
              misses-- > 0 ? undefined : target.messageAt(roomId, seq);
          }
          const member = target[name];
          return typeof member === "function" ? member.bind(target) : member;
        },
      });
    const t = await setup(new MemoryRegistry(), lagging);
    const group = await t.room("group", ["ann", "ben"]);
    await t.stored(group, 1, "ben");
    const answer = t.reply(group, 1, "right away");
    await t.notifier.handleBatch(batch(answer));
    const ben = await t.notifications.list(t.user("ben"), { limit: 10 });
    assert.deepEqual(
      ben.items.map((n) => [n.messageId, n.kind]),
      [[answer.id, "reply"]],
    );
    assert.ok(misses < 0, "the first read missed it");
  });

  it("in a direct room a reply is a direct notification", async () => {
    const t = await setup();
    const direct = await t.room("direct", ["ann", "ben"]);
    await t.stored(direct, 1, "ben");
    const r = t.reply(direct, 1, "re: that");
    await t.notifier.handleBatch(batch(r));
    const ben = await t.notifications.list(t.user("ben"), { limit: 10 });
    assert.deepEqual(
      ben.items.map((n) => [n.messageId, n.kind]),
      [[r.id, "direct"]],
    );
  });

  it("a replayed batch records nothing twice, and a read notification stays read", async () => {
    const t = await setup();
    const direct = await t.room("direct", ["ann", "ben"]);
    const m = t.message(direct, "hi");
    await t.notifier.handleBatch(batch(m));
    await t.notifications.markRead(t.user("ben"), m.id);
    await t.notifier.handleBatch(batch(m));
    await t.notifier.handleBatch(
      batch({ ...m, sentAt: new Date(Date.now() + 5_000).toISOString() }),
    );
    const ben = await t.notifications.list(t.user("ben"), { limit: 10 });
    assert.equal(ben.items.length, 1);
    assert.equal(ben.items[0]?.read, true);
  });

  it("an online member or one who muted the room gets none", async () => {
    const registry = new MemoryRegistry();
    const t = await setup(registry);
    const group = await t.room("group", ["ann", "ben", "cat"]);
    await registry.markOnline("gw-1", [t.user("cat")], 60_000);
    await t.notifications.mute(t.user("ben"), group);
    await t.notifier.handleBatch(batch(t.message(group, "@ben @cat")));
    assert.equal(await t.notifications.unreadCount(t.user("ben")), 0);
    assert.equal(await t.notifications.unreadCount(t.user("cat")), 0);
  });

  it("while the registry does not answer, everyone addressed counts as offline", async () => {
    const t = await setup({
      onlineUsers: () => Promise.reject(new Error("registry down")),
      gatewaysForUser: () => Promise.reject(new Error("registry down")),
    });
    const direct = await t.room("direct", ["ann", "ben"]);
    await t.notifier.handleBatch(batch(t.message(direct, "hi")));
    assert.equal(await t.notifications.unreadCount(t.user("ben")), 1);
    const fallbacks = await t.metrics.notifierPresenceFallbacks.get();
    assert.equal(fallbacks.values[0]?.value, 1);
  });

  it("tells the gateways of a user who came online meanwhile that their unread count changed, nobody else", async () => {
    const registry = new MemoryRegistry();
    let counted = false;
    // ben is counted offline when the message is handled, and opens a socket on gw-1 just after
    const t = await setup({
      onlineUsers: async (users) => {
        if (!counted) {
          counted = true;
          return new Set();
        }
        return registry.onlineUsers(users);
      },
      gatewaysForUser: (u) => registry.gatewaysForUser(u),
    });
    const heard: string[] = [];
    await t.delivery.listen("gw-1", (p) => heard.push(p));
    await t.delivery.listen("gw-2", (p) => heard.push(`gw-2 ${p}`));
    const group = await t.room("group", ["ann", "ben", "cat"]);
    await registry.markOnline("gw-1", [t.user("ben")], 60_000);
    await t.notifier.handleBatch(batch(t.message(group, "@ben @cat")));
    assert.equal(await t.notifications.unreadCount(t.user("ben")), 1);
    assert.equal(await t.notifications.unreadCount(t.user("cat")), 1);
    await waitFor("the delivery", () => (heard.length > 0 ? true : undefined));
    // a later delivery to the same listeners proves nothing else was on its way
    await t.delivery.sendMany([
      { gatewayId: "gw-1", payload: "end" },
      { gatewayId: "gw-2", payload: "end" },
    ]);
    await waitFor("the end markers", () => (heard.length >= 3 ? true : undefined));
    assert.deepEqual(
      heard.filter((p) => !p.endsWith("end")).map((p) => JSON.parse(p)),
      [{ kind: "unread", userId: t.user("ben") }],
      "only ben, online now, and only on his gateway",
    );
  });

  it("skips system messages, other events, unknown rooms and records that are not events", async () => {
    const t = await setup();
    const direct = await t.room("direct", ["ann", "ben"]);
    const system = { ...t.message(direct, "@ben"), msgType: "system" as const };
    const unknown = t.message(randomUUID(), "hi");
    const seen: BusEvent = { kind: "seen", roomId: direct, userId: t.user("ann"), seq: 1 };
    const b = batch(system, unknown, seen);
    await t.notifier.handleBatch({
      ...b,
      records: [...b.records, { key: "k", value: "not json", headers: {}, offset: "9" }],
    });
    assert.equal(await t.notifications.unreadCount(t.user("ben")), 0);
  });
});
