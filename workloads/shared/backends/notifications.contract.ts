// The NotificationStore contract: every documented behaviour of notifications.ts, run against
// each adapter (notifications.memory.test.ts, notifications.cassandra.int.ts). Every test uses
// fresh user and room ids, so tests never see each other's data.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MAX_UNREAD_COUNT, type Notification, type NotificationStore } from "./notifications.ts";

export interface NotificationStoreUnderTest {
  readonly subject: NotificationStore;
  cleanup(): Promise<void>;
}

const id = (): string => randomUUID();
const T0 = 1_700_000_000_000;

function notification(userId: string, i: number, over: Partial<Notification> = {}): Notification {
  return {
    userId,
    messageId: id(),
    roomId: id(),
    senderId: id(),
    kind: i % 2 === 0 ? "direct" : "mention",
    excerpt: `message ${i}`,
    at: new Date(T0 + i * 1000),
    ...over,
  };
}

export function notificationStoreContract(
  name: string,
  make: () => Promise<NotificationStoreUnderTest>,
): void {
  describe(`NotificationStore contract: ${name}`, () => {
    let under: NotificationStoreUnderTest | undefined;
    const store = (): NotificationStore => {
      if (under === undefined) throw new Error("the store was not made");
      return under.subject;
    };
    before(async () => {
      under = await make();
    });
    after(async () => {
      await under?.cleanup();
    });

    it("lists a user's notifications newest first, unread, with every field", async () => {
      const user = id();
      const ns = [0, 1, 2].map((i) => notification(user, i));
      await store().record(ns);
      await store().record([notification(id(), 3)]);
      const page = await store().list(user, { limit: 10 });
      assert.deepEqual(
        page.items,
        [...ns].reverse().map((n) => ({ ...n, read: false })),
      );
      assert.equal(page.next, undefined);
      assert.equal(await store().unreadCount(user), 3);
    });

    it("pages with the cursor of the previous page, without overlap or gap", async () => {
      const user = id();
      const ns = Array.from({ length: 7 }, (_, i) => notification(user, i));
      // two at the same instant: the message id orders them
      ns.push(notification(user, 3));
      await store().record(ns);
      const seen: string[] = [];
      let before: Awaited<ReturnType<NotificationStore["list"]>>["next"];
      let pages = 0;
      do {
        const page = await store().list(user, { limit: 3, ...(before ? { before } : {}) });
        seen.push(...page.items.map((n) => n.messageId));
        before = page.next;
        pages++;
      } while (before !== undefined && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(new Set(seen).size, 8);
      const all = (await store().list(user, { limit: 100 })).items.map((n) => n.messageId);
      assert.deepEqual(seen, all);
    });

    it("records a user's notification of a message once, however often it is recorded", async () => {
      const user = id();
      const n = notification(user, 1);
      await store().record([n]);
      await store().markRead(user, n.messageId);
      // a replay, and another event of the same message (a sender's retry sent later)
      await store().record([n]);
      await store().record([{ ...n, at: new Date(T0 + 60_000), kind: "direct" }]);
      const page = await store().list(user, { limit: 10 });
      assert.deepEqual(page.items, [{ ...n, read: true }]);
      assert.equal(await store().unreadCount(user), 0);
    });

    it("marks one notification read; an unknown one answers false", async () => {
      const user = id();
      const [a, b] = [notification(user, 1), notification(user, 2)];
      await store().record([a, b]);
      assert.equal(await store().markRead(user, a.messageId), true);
      assert.equal(await store().markRead(user, id()), false);
      assert.equal(await store().markRead(id(), a.messageId), false);
      assert.deepEqual(await store().get(user, a.messageId), { ...a, read: true });
      assert.deepEqual(await store().get(user, b.messageId), { ...b, read: false });
      assert.equal(await store().get(user, id()), undefined);
      assert.equal(await store().unreadCount(user), 1);
    });

    it("marks everything up to a position read, later ones stay unread, never backwards", async () => {
      const user = id();
      const ns = [1, 2, 3, 4].map((i) => notification(user, i));
      await store().record(ns);
      const upTo = ns[1] as Notification;
      await store().markReadUpTo(user, upTo);
      await store().markReadUpTo(user, ns[0] as Notification);
      const reads = (await store().list(user, { limit: 10 })).items.map((n) => n.read);
      assert.deepEqual(reads, [false, false, true, true]);
      assert.equal(await store().unreadCount(user), 2);
      await store().markReadUpTo(user, { at: new Date(T0 + 3_600_000), messageId: id() });
      assert.equal(await store().unreadCount(user), 0);
    });

    it("counts at most MAX_UNREAD_COUNT unread", { timeout: 120_000 }, async () => {
      const user = id();
      const ns = Array.from({ length: MAX_UNREAD_COUNT + 3 }, (_, i) => notification(user, i));
      for (let i = 0; i < ns.length; i += 100) await store().record(ns.slice(i, i + 100));
      assert.equal(await store().unreadCount(user), MAX_UNREAD_COUNT);
    });

    it("a user without notifications has none and none unread", async () => {
      assert.deepEqual(await store().list(id(), { limit: 10 }), { items: [] });
      assert.equal(await store().unreadCount(id()), 0);
    });

    it("mutes and unmutes rooms per user, idempotently", async () => {
      const [ann, bob] = [id(), id()];
      const [r1, r2] = [id(), id()].sort() as [string, string];
      await store().mute(ann, r1);
      await store().mute(ann, r1);
      await store().mute(ann, r2);
      await store().mute(bob, r2);
      assert.deepEqual(await store().mutedRooms(ann), [r1, r2]);
      assert.deepEqual(await store().mutedBy(r1, [ann, bob, id()]), new Set([ann]));
      assert.deepEqual(await store().mutedBy(r2, [ann, bob]), new Set([ann, bob]));
      await store().unmute(ann, r1);
      await store().unmute(ann, r1);
      await store().unmute(bob, id());
      assert.deepEqual(await store().mutedRooms(ann), [r2]);
      assert.deepEqual(await store().mutedBy(r1, [ann, bob]), new Set());
      assert.deepEqual(await store().mutedRooms(id()), []);
    });
  });
}
