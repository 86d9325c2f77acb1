// The Store contract: every documented behaviour of store.ts, run against each adapter
// (store.memory.test.ts, store.cassandra.int.ts). One store per suite; every test uses fresh
// ids, so tests never see each other's data.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../../e2e/testkit/index.ts";
import type {
  IdentityLink,
  Member,
  RefreshToken,
  Room,
  RoomKind,
  SignOnSession,
  StoredMessage,
  User,
} from "../domain.ts";
import { messageId } from "../ids.ts";
import type { Store } from "./store.ts";

export interface StoreUnderTest {
  readonly store: Store;
  cleanup(): Promise<void>;
}

const id = (): string => randomUUID();
/** Whole milliseconds, as every adapter stores them. */
const at = (offsetMs = 0): Date => new Date(Date.now() + offsetMs);

function newUser(username = `user_${id()}`): User {
  return {
    id: id(),
    username,
    displayName: "Ada",
    passwordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    createdAt: at(),
  };
}

function newRoom(kind: RoomKind, createdAt = at()): Room {
  const named = kind === "group" || kind === "channel";
  return { id: id(), kind, name: named ? `room ${id()}` : null, createdBy: id(), createdAt };
}

function newToken(family = id(), lifetimeMs = 3_600_000): RefreshToken {
  return { id: id(), userId: id(), family, expiresAt: at(lifetimeMs) };
}

function newMessage(roomId: string, seq: number): StoredMessage {
  return {
    roomId,
    seq,
    id: id(),
    senderId: "sender",
    clientMsgId: `c${seq}`,
    msgType: "text",
    content: { text: `message ${seq}` },
    createdAt: new Date(1_700_000_000_000 + seq * 1000),
  };
}

const member = (roomId: string, userId: string, role: Member["role"] = "member"): Member => ({
  roomId,
  userId,
  role,
  joinedAt: at(),
});

const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Runs `fn` on every item, `limit` at a time. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let subject: StoreUnderTest | undefined;
    const store = (): Store => {
      if (subject === undefined) throw new Error("the store was not made");
      return subject.store;
    };
    before(async () => {
      subject = await makeStore();
    });
    after(async () => {
      await subject?.cleanup();
    });

    describe("users", () => {
      it("a created user is found by id and by username", async () => {
        const user = newUser();
        assert.equal(await store().createUser(user), true);
        assert.deepEqual(await store().getUser(user.id), user);
        assert.deepEqual(await store().getUserByName(user.username), user);
      });

      it("a taken username is refused and nothing of the second user is written", async () => {
        const first = newUser();
        const second = { ...newUser(first.username), displayName: "Other" };
        assert.equal(await store().createUser(first), true);
        assert.equal(await store().createUser(second), false);
        assert.equal(await store().getUser(second.id), undefined);
        assert.deepEqual(await store().getUserByName(first.username), first);
      });

      it("creating the same user again (a retry) is not a conflict", async () => {
        const user = newUser();
        assert.equal(await store().createUser(user), true);
        assert.equal(await store().createUser(user), true);
        assert.deepEqual(await store().getUserByName(user.username), user);
      });

      it("of concurrent creations of one username exactly one succeeds", async () => {
        const username = `race_${id()}`;
        const users = range(1, 8).map(() => newUser(username));
        const results = await Promise.all(users.map((u) => store().createUser(u)));
        assert.equal(results.filter((r) => r).length, 1);
        const winner = users[results.indexOf(true)];
        assert.deepEqual(await store().getUserByName(username), winner);
        for (const [i, u] of users.entries()) {
          if (!results[i]) assert.equal(await store().getUser(u.id), undefined);
        }
      });

      it("unknown ids and usernames resolve undefined", async () => {
        assert.equal(await store().getUser(id()), undefined);
        assert.equal(await store().getUserByName(`nobody_${id()}`), undefined);
      });

      it("users with an email are listed by it, oldest first, with whether it is verified; an email may be on several", async () => {
        const email = `ada-${id()}@example.test`;
        const first = { ...newUser(), email, createdAt: at(-1000) };
        const second: User = { ...newUser(), email, passwordHash: "", emailVerified: true };
        const without = newUser();
        for (const u of [first, second, without]) assert.equal(await store().createUser(u), true);
        assert.deepEqual(await store().usersByEmail(email), [first, second]);
        assert.deepEqual(await store().getUser(first.id), first);
        assert.deepEqual(await store().getUserByName(second.username), second);
        assert.equal((await store().getUser(second.id))?.emailVerified, true);
        assert.equal("emailVerified" in ((await store().getUser(first.id)) ?? {}), false);
        assert.deepEqual(await store().usersByEmail(`nobody-${id()}@example.test`), []);
      });

      it("a user refused for a taken username is not listed by its email", async () => {
        const first = newUser();
        const email = `taken-${id()}@example.test`;
        assert.equal(await store().createUser(first), true);
        assert.equal(await store().createUser({ ...newUser(first.username), email }), false);
        assert.deepEqual(await store().usersByEmail(email), []);
      });

      it("callers cannot change stored values through the objects they pass or get", async () => {
        const user = newUser();
        const original = structuredClone(user);
        await store().createUser(user);
        (user as { displayName: string }).displayName = "changed after create";
        const got = await store().getUser(user.id);
        assert.ok(got !== undefined);
        (got as { displayName: string }).displayName = "changed after get";
        got.createdAt.setTime(0);
        assert.deepEqual(await store().getUser(user.id), original);
      });
    });

    describe("identity links", () => {
      const link = (userId = id(), subject = id()): IdentityLink => ({
        issuer: "https://idp.example.test/realms/a",
        subject,
        userId,
        linkedAt: at(),
      });

      it("a linked identity is found by issuer and subject, and nothing for another issuer", async () => {
        const l = link();
        assert.equal(await store().linkIdentity(l), l.userId);
        assert.deepEqual(await store().getIdentity(l.issuer, l.subject), l);
        assert.equal(await store().getIdentity("https://other.example.test", l.subject), undefined);
        assert.equal(await store().getIdentity(l.issuer, id()), undefined);
      });

      it("an identity is linked once: a later link resolves the first one's user", async () => {
        const l = link();
        assert.equal(await store().linkIdentity(l), l.userId);
        assert.equal(await store().linkIdentity({ ...l, userId: id() }), l.userId);
        assert.deepEqual(await store().getIdentity(l.issuer, l.subject), l);
      });

      it("of concurrent links of one identity exactly one holds, and every caller is told it", async () => {
        const subject = id();
        const links = range(1, 6).map(() => link(id(), subject));
        const holders = await Promise.all(links.map((l) => store().linkIdentity(l)));
        const held = await store().getIdentity(links[0]?.issuer ?? "", subject);
        assert.ok(held !== undefined);
        assert.ok(links.some((l) => l.userId === held.userId));
        assert.deepEqual(
          holders,
          links.map(() => held.userId),
        );
      });
    });

    describe("refresh tokens", () => {
      it("a saved token is read back", async () => {
        const token = newToken();
        await store().saveRefreshToken(token);
        assert.deepEqual(await store().getRefreshToken(token.id), token);
        assert.equal(await store().getRefreshToken(id()), undefined);
      });

      it("a token is consumed exactly once, also by concurrent callers", async () => {
        const token = newToken();
        await store().saveRefreshToken(token);
        const results = await Promise.all(
          range(1, 10).map(() => store().consumeRefreshToken(token.id)),
        );
        assert.equal(results.filter((r) => r).length, 1);
        assert.equal(await store().consumeRefreshToken(token.id), false);
        assert.deepEqual(await store().getRefreshToken(token.id), token, "still readable");
      });

      it("an unknown token cannot be consumed", async () => {
        assert.equal(await store().consumeRefreshToken(id()), false);
      });

      it("revoking a family hides every token of it and no other", async () => {
        const family = id();
        const a = newToken(family);
        const b = newToken(family);
        const other = newToken();
        for (const t of [a, b, other]) await store().saveRefreshToken(t);
        await store().revokeRefreshFamily(family);
        assert.equal(await store().getRefreshToken(a.id), undefined);
        assert.equal(await store().getRefreshToken(b.id), undefined);
        assert.deepEqual(await store().getRefreshToken(other.id), other);
        const later = newToken(family);
        await store().saveRefreshToken(later);
        assert.equal(await store().getRefreshToken(later.id), undefined, "a later token too");
      });

      it("tells which of the families asked for are revoked", async () => {
        const [revoked, live, unknown] = [id(), id(), id()];
        await store().saveRefreshToken(newToken(live));
        await store().revokeRefreshFamily(revoked);
        assert.deepEqual(
          await store().revokedRefreshFamilies([revoked, live, unknown, revoked]),
          new Set([revoked]),
        );
        assert.deepEqual(await store().revokedRefreshFamilies([]), new Set());
      });

      it("a token is gone once it expires, and an expired one is not saved", async () => {
        const token = newToken(id(), 1_500);
        await store().saveRefreshToken(token);
        assert.deepEqual(await store().getRefreshToken(token.id), token);
        await waitFor(
          "the token to expire",
          async () => ((await store().getRefreshToken(token.id)) === undefined ? true : undefined),
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        assert.equal(await store().consumeRefreshToken(token.id), false);
        const expired = newToken(id(), -1_000);
        await store().saveRefreshToken(expired);
        assert.equal(await store().getRefreshToken(expired.id), undefined);
      });
    });

    describe("sign-on sessions", () => {
      const signOn = (over: Partial<SignOnSession> = {}): SignOnSession => ({
        issuer: "https://provider.example.test/realms/one",
        subject: id(),
        providerSessionId: id(),
        sessionId: id(),
        userId: id(),
        expiresAt: new Date(Date.now() + 3_600_000),
        ...over,
      });
      const ids = (found: readonly { sessionId: string }[]) => found.map((s) => s.sessionId).sort();

      it("finds our sessions by the provider's session, and by its subject", async () => {
        const first = signOn();
        const second = signOn({ subject: first.subject }); // the same person, signed in again
        const noSid = signOn({ subject: first.subject, providerSessionId: undefined });
        for (const s of [first, second, noSid]) await store().saveSignOnSession(s);
        assert.deepEqual(
          await store().signOnSessions(first.issuer, { sid: first.providerSessionId as string }),
          [{ sessionId: first.sessionId, userId: first.userId }],
        );
        assert.deepEqual(
          ids(await store().signOnSessions(first.issuer, { subject: first.subject })),
          ids([first, second, noSid]),
        );
        assert.deepEqual(
          await store().signOnSessions("https://other.example.test", { subject: first.subject }),
          [],
        );
        assert.deepEqual(await store().signOnSessions(first.issuer, { sid: id() }), []);
        assert.deepEqual(await store().signOnSessions(first.issuer, { subject: id() }), []);
      });

      it("forgets a session once it ends, and does not keep one that has", async () => {
        const short = signOn({ expiresAt: new Date(Date.now() + 1_500) });
        const ended = signOn({ expiresAt: new Date(Date.now() - 1_000) });
        await store().saveSignOnSession(short);
        await store().saveSignOnSession(ended);
        const sid = { sid: short.providerSessionId as string };
        assert.equal((await store().signOnSessions(short.issuer, sid)).length, 1);
        await waitFor(
          "the sign-on session to expire",
          async () =>
            (await store().signOnSessions(short.issuer, sid)).length === 0 ? true : undefined,
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        assert.deepEqual(
          await store().signOnSessions(short.issuer, { subject: short.subject }),
          [],
        );
        assert.deepEqual(
          await store().signOnSessions(ended.issuer, { subject: ended.subject }),
          [],
        );
        assert.equal(await store().signOnOf(ended.sessionId), undefined);
        // its row by our session expires on its own (within the second)
        await waitFor(
          "the sign-on by our session to expire",
          async () => ((await store().signOnOf(short.sessionId)) === undefined ? true : undefined),
          { timeoutMs: 5_000, intervalMs: 200 },
        );
      });

      it("finds the sign-on of our session, and a save with a later end keeps it longer", async () => {
        const short = signOn({ expiresAt: new Date(Date.now() + 3_000) });
        const noSid = signOn({ providerSessionId: undefined });
        await store().saveSignOnSession(short);
        await store().saveSignOnSession(noSid);
        const found = await store().signOnOf(short.sessionId);
        assert.deepEqual(found && { ...found, expiresAt: undefined }, {
          ...short,
          expiresAt: undefined,
        });
        // its end as stored: within a second of the one saved (Cassandra keeps whole seconds)
        assert.ok(Math.abs((found?.expiresAt.getTime() ?? 0) - short.expiresAt.getTime()) < 2_000);
        assert.equal((await store().signOnOf(noSid.sessionId))?.providerSessionId, undefined);
        assert.equal(await store().signOnOf(id()), undefined);

        // renewed, as a refresh of the session does; another sign-on of the same person with
        // the same end is not, and once it has expired the renewed one is still found by all three
        const control = signOn({ subject: short.subject, expiresAt: short.expiresAt });
        await store().saveSignOnSession(control);
        await store().saveSignOnSession({ ...short, expiresAt: new Date(Date.now() + 3_600_000) });
        // (each row expires on its own: Cassandra counts a TTL from each write's second)
        const bySubject = () => store().signOnSessions(short.issuer, { subject: short.subject });
        await waitFor(
          "the sign-on that was not renewed to expire",
          async () =>
            (await store().signOnOf(control.sessionId)) === undefined &&
            !ids(await bySubject()).includes(control.sessionId)
              ? true
              : undefined,
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        assert.equal((await store().signOnOf(short.sessionId))?.sessionId, short.sessionId);
        assert.deepEqual(ids(await bySubject()), [short.sessionId]);
        assert.deepEqual(
          ids(
            await store().signOnSessions(short.issuer, { sid: short.providerSessionId as string }),
          ),
          [short.sessionId],
        );
      });
    });

    describe("rooms and members", () => {
      it("a created room is found with its members, and each member's rooms list it", async () => {
        const room = newRoom("group");
        const [u1, u2] = [id(), id()];
        const members = [member(room.id, u1, "owner"), member(room.id, u2)];
        await store().createRoom(room, members);
        assert.deepEqual(await store().getRoom(room.id), room);
        const sorted = [...members].sort((x, y) => (x.userId < y.userId ? -1 : 1));
        assert.deepEqual(await store().listMembers(room.id), sorted);
        assert.deepEqual(await store().getMember(room.id, u1), members[0]);
        assert.deepEqual(await store().roomsOfUser(u1), [room.id]);
        assert.equal(await store().getRoom(id()), undefined);
        assert.deepEqual(await store().listMembers(id()), []);
      });

      it("adding and removing a member are idempotent and say whether they changed anything", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const user = id();
        const joined = at();
        assert.equal(await store().addMember(room.id, user, "member", joined), true);
        assert.equal(await store().addMember(room.id, user, "owner", at(1000)), false);
        assert.deepEqual(await store().getMember(room.id, user), {
          roomId: room.id,
          userId: user,
          role: "member",
          joinedAt: joined,
        });
        assert.deepEqual(await store().roomsOfUser(user), [room.id]);
        assert.equal(await store().removeMember(room.id, user), true);
        assert.equal(await store().removeMember(room.id, user), false);
        assert.equal(await store().getMember(room.id, user), undefined);
        assert.deepEqual(await store().roomsOfUser(user), []);
        assert.deepEqual(await store().listMembers(room.id), []);
      });

      it("a user's rooms are all listed", async () => {
        const user = id();
        const rooms = range(1, 25).map(() => newRoom("group"));
        for (const r of rooms) await store().createRoom(r, [member(r.id, user)]);
        assert.deepEqual(await store().roomsOfUser(user), rooms.map((r) => r.id).sort());
      });

      it("ensureDirectRoom creates the one direct room of a pair, whichever way round", async () => {
        const [a, b] = [id(), id()];
        const first = newRoom("direct");
        assert.deepEqual(await store().ensureDirectRoom(first, a, b), first);
        assert.deepEqual(await store().ensureDirectRoom(newRoom("direct"), b, a), first);
        assert.deepEqual(await store().getRoom(first.id), first);
        const members = await store().listMembers(first.id);
        assert.deepEqual(members.map((m) => m.userId).sort(), [a, b].sort());
        assert.deepEqual(await store().roomsOfUser(a), [first.id]);
        assert.deepEqual(await store().roomsOfUser(b), [first.id]);
      });

      it("concurrent ensureDirectRoom calls all resolve the same room", async () => {
        const [a, b] = [id(), id()];
        const candidates = range(1, 10).map(() => newRoom("direct"));
        const rooms = await Promise.all(
          candidates.map((r, i) => store().ensureDirectRoom(r, i % 2 ? a : b, i % 2 ? b : a)),
        );
        const winner = rooms[0];
        assert.ok(winner !== undefined);
        assert.ok(candidates.some((c) => c.id === winner.id));
        for (const r of rooms) assert.deepEqual(r, winner);
        assert.deepEqual(await store().getRoom(winner.id), winner);
        assert.deepEqual(await store().roomsOfUser(a), [winner.id]);
        assert.equal((await store().listMembers(winner.id)).length, 2);
      });

      it("listChannels lists channels only, newest first, at most `limit`", async () => {
        const base = Date.now() + 86_400_000; // after every other room of the suite
        const channels = range(0, 2).map((i) => newRoom("channel", new Date(base + i * 1000)));
        for (const c of channels) await store().createRoom(c, []);
        await store().createRoom(newRoom("group", new Date(base + 5000)), []);
        const newest = [...channels].reverse();
        assert.deepEqual(await store().listChannels(2), newest.slice(0, 2));
        const all = await store().listChannels(100);
        assert.deepEqual(all.slice(0, 3), newest);
        assert.ok(all.every((r) => r.kind === "channel"));
      });
    });

    describe("messages", () => {
      it("a persisted message is found by id and in history, an uploaded object's key too", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const text = newMessage(room.id, 1);
        const file: StoredMessage = {
          ...newMessage(room.id, 2),
          msgType: "file",
          content: {
            url: "https://files.example/x.pdf",
            name: "x.pdf",
            size: 12345,
            mime: "application/pdf",
          },
        };
        const upload: StoredMessage = {
          ...newMessage(room.id, 3),
          msgType: "image",
          content: { key: `c/${room.id}/${id()}`, name: "a.png", size: 9, mime: "image/png" },
        };
        await store().persistMessage(text);
        await store().persistMessage(file);
        await store().persistMessage(upload);
        assert.deepEqual(await store().messageById(room.id, text.id), text);
        assert.deepEqual(await store().messageById(room.id, file.id), file);
        assert.deepEqual(await store().messageById(room.id, upload.id), upload);
        assert.deepEqual(
          (await store().history(room.id, { limit: 10 })).map((m) => m.content),
          [text.content, file.content, upload.content],
        );
        assert.equal(await store().messageById(room.id, id()), undefined);
      });

      it("a reply keeps the seq it answers, by id, by seq, in history and in one write of many", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const first = newMessage(room.id, 1);
        const reply: StoredMessage = { ...newMessage(room.id, 2), replyTo: 1 };
        const batch = [newMessage(room.id, 3), { ...newMessage(room.id, 4), replyTo: 2 }];
        await store().persistMessage(first);
        await store().persistMessage(reply);
        await store().persistMessages(batch);
        assert.deepEqual(await store().messageById(room.id, reply.id), reply);
        assert.deepEqual(await store().messageAt(room.id, 2), reply);
        assert.deepEqual(
          (await store().history(room.id, { limit: 10 })).map((m) => m.replyTo),
          [undefined, 1, undefined, 2],
        );
        assert.equal("replyTo" in ((await store().messageAt(room.id, 1)) ?? {}), false);
      });

      it("one sender's client_msg_id reused in two rooms makes two messages, one per room", async () => {
        const first = newRoom("group");
        const second = newRoom("group");
        await store().createRoom(first, []);
        await store().createRoom(second, []);
        // the ids the gateway derives: scoped by sender, room and client_msg_id
        const inRoom = (room: Room): StoredMessage => ({
          ...newMessage(room.id, 1),
          id: messageId({ senderId: "sender", roomId: room.id, clientMsgId: "same-client-id" }),
          clientMsgId: "same-client-id",
        });
        const a = inRoom(first);
        const b = inRoom(second);
        await store().persistMessage(a);
        await store().persistMessage(b);
        assert.deepEqual(await store().messageById(first.id, a.id), a);
        assert.deepEqual(await store().messageById(second.id, b.id), b);
        assert.equal(await store().messageById(second.id, a.id), undefined);
        assert.deepEqual(await store().history(first.id, { limit: 10 }), [a]);
        assert.deepEqual(await store().history(second.id, { limit: 10 }), [b]);
      });

      it("persistMessages stores a room's consecutive messages at once, idempotently", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const messages = [1, 2, 3].map((s) => newMessage(room.id, s));
        await store().persistMessages(messages);
        await store().persistMessages(messages.slice(1)); // a retry after a partial failure
        assert.deepEqual(await store().history(room.id, { limit: 10 }), messages);
        assert.deepEqual(
          await store().messageById(room.id, messages[1]?.id as string),
          messages[1],
        );
        assert.equal((await store().roomStates([room.id])).get(room.id)?.lastSeq, 3);
        await assert.rejects(store().persistMessages([]), RangeError);
        const elsewhere = newMessage(id(), 4);
        await assert.rejects(
          store().persistMessages([newMessage(room.id, 4), elsewhere]),
          RangeError,
        );
      });

      it("persistMessages stores a write that spans two buckets of history", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const messages = [998, 999, 1000, 1001].map((s) => newMessage(room.id, s));
        await store().persistMessages(messages);
        assert.deepEqual(await store().history(room.id, { after: 997, limit: 10 }), messages);
        assert.deepEqual(await store().messageAt(room.id, 1000), messages[2]);
        assert.deepEqual(
          await store().messageById(room.id, messages[3]?.id as string),
          messages[3],
        );
        assert.equal((await store().roomStates([room.id])).get(room.id)?.lastSeq, 1001);
      });

      it("persistMessages of many rooms at once stores each room's write whole", async () => {
        // as the forwarder's room writers do when a batch of the bus arrives: 25 rooms at
        // once, one with texts long enough that its by-id rows go in requests of their own
        const rooms = Array.from({ length: 25 }, () => newRoom("group"));
        for (const room of rooms) await store().createRoom(room, []);
        const writes = rooms.map((room, r) =>
          [1, 2, 3].map((seq) => {
            const m = newMessage(room.id, seq);
            return r === 7 ? { ...m, content: { text: "é".repeat(3_000) } } : m;
          }),
        );
        await Promise.all(writes.map((w) => store().persistMessages(w)));
        for (const [r, room] of rooms.entries()) {
          const w = writes[r] ?? [];
          assert.deepEqual(await store().history(room.id, { limit: 10 }), w);
          assert.deepEqual(await store().messageById(room.id, w[2]?.id as string), w[2]);
          assert.equal((await store().roomStates([room.id])).get(room.id)?.lastSeq, 3);
        }
      });

      it("messageAt finds a room's message by seq, and nothing where the seq is free", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const messages = [1, 2, 1001].map((s) => newMessage(room.id, s));
        for (const m of messages) await store().persistMessage(m);
        assert.deepEqual(await store().messageAt(room.id, 2), messages[1]);
        assert.deepEqual(await store().messageAt(room.id, 1001), messages[2]);
        assert.equal(await store().messageAt(room.id, 3), undefined);
        assert.equal(await store().messageAt(id(), 1), undefined);
      });

      it("persisting a message again changes nothing", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const messages = range(1, 3).map((s) => newMessage(room.id, s));
        for (const m of messages) await store().persistMessage(m);
        await store().persistMessage(messages[2] as StoredMessage);
        await store().persistMessage(messages[0] as StoredMessage);
        assert.deepEqual(await store().history(room.id, { limit: 10 }), messages);
        const state = (await store().roomStates([room.id])).get(room.id);
        assert.deepEqual(state, {
          roomId: room.id,
          lastSeq: 3,
          lastActivity: messages[2]?.createdAt,
        });
      });

      it("roomStates gives every room's last seq and activity, 0 before the first message", async () => {
        const quiet = newRoom("group");
        const busy = newRoom("group");
        await store().createRoom(quiet, []);
        await store().createRoom(busy, []);
        const messages = range(1, 3).map((s) => newMessage(busy.id, s));
        for (const m of messages) await store().persistMessage(m);
        const states = await store().roomStates([quiet.id, busy.id]);
        assert.deepEqual(states.get(quiet.id), {
          roomId: quiet.id,
          lastSeq: 0,
          lastActivity: quiet.createdAt,
        });
        assert.deepEqual(states.get(busy.id), {
          roomId: busy.id,
          lastSeq: 3,
          lastActivity: messages[2]?.createdAt,
        });
        const unknown = id();
        assert.equal((await store().roomStates([unknown])).get(unknown)?.lastSeq, 0);
      });

      it("a room's state never moves back when an older message is persisted again", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        const messages = range(1, 5).map((s) => newMessage(room.id, s));
        // out of order, as a replay after a crash delivers them
        for (const s of [1, 2, 5, 3, 4, 2])
          await store().persistMessage(messages[s - 1] as StoredMessage);
        const state = (await store().roomStates([room.id])).get(room.id);
        assert.equal(state?.lastSeq, 5);
        assert.deepEqual(state?.lastActivity, messages[4]?.createdAt);
      });

      it("history of an empty or unknown room is empty, and limit must be 1..100", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        assert.deepEqual(await store().history(room.id, { limit: 10 }), []);
        assert.deepEqual(await store().history(id(), { limit: 10, before: 50 }), []);
        await assert.rejects(store().history(room.id, { limit: 0 }), RangeError);
        await assert.rejects(store().history(room.id, { limit: 101 }), RangeError);
      });

      it("latest gives a room's newest messages with its last seq: none and 0 before the first, and limit must be 1..100", async () => {
        const room = newRoom("group");
        await store().createRoom(room, []);
        assert.deepEqual(await store().latest(room.id, 10), { lastSeq: 0, messages: [] });
        assert.deepEqual(await store().latest(id(), 10), { lastSeq: 0, messages: [] });
        const messages = range(1, 4).map((s) => newMessage(room.id, s));
        for (const m of messages) await store().persistMessage(m);
        assert.deepEqual(await store().latest(room.id, 3), {
          lastSeq: 4,
          messages: messages.slice(1),
        });
        assert.deepEqual(await store().latest(room.id, 10), { lastSeq: 4, messages });
        await assert.rejects(store().latest(room.id, 0), RangeError);
        await assert.rejects(store().latest(room.id, 101), RangeError);
      });

      describe("history of a room of 2,050 messages (three buckets of 1,000 seqs)", () => {
        const room = newRoom("channel", new Date(0));
        const total = 2050;
        const messages = range(1, total).map((s) => newMessage(room.id, s));
        const seqs = async (q: { before?: number; after?: number; limit: number }) =>
          (await store().history(room.id, q)).map((m) => m.seq);

        before(async () => {
          await store().createRoom(room, []);
          await inParallel(messages, 50, (m) => store().persistMessage(m));
        });

        it("the newest page when neither before nor after is given", async () => {
          assert.deepEqual(await seqs({ limit: 100 }), range(1951, 2050));
          assert.deepEqual(await seqs({ limit: 1 }), [2050]);
          assert.deepEqual(await store().history(room.id, { limit: 2 }), messages.slice(-2));
        });

        it("latest gives the newest page and the last seq", async () => {
          const latest = await store().latest(room.id, 100);
          assert.equal(latest.lastSeq, total);
          assert.deepEqual(latest.messages, messages.slice(-100));
        });

        it("pages before a seq, across bucket boundaries", async () => {
          assert.deepEqual(await seqs({ before: 1001, limit: 5 }), range(996, 1000));
          assert.deepEqual(await seqs({ before: 1003, limit: 10 }), range(993, 1002));
          assert.deepEqual(await seqs({ before: 2001, limit: 100 }), range(1901, 2000));
          assert.deepEqual(await seqs({ before: 4, limit: 100 }), [1, 2, 3]);
          assert.deepEqual(await seqs({ before: 1, limit: 100 }), []);
          assert.deepEqual(await seqs({ before: 9999, limit: 3 }), [2048, 2049, 2050]);
        });

        it("pages after a seq, across bucket boundaries", async () => {
          assert.deepEqual(await seqs({ after: 0, limit: 3 }), [1, 2, 3]);
          assert.deepEqual(await seqs({ after: 995, limit: 10 }), range(996, 1005));
          assert.deepEqual(await seqs({ after: 1950, limit: 100 }), range(1951, 2050));
          assert.deepEqual(await seqs({ after: 2045, limit: 100 }), range(2046, 2050));
          assert.deepEqual(await seqs({ after: 2050, limit: 100 }), []);
        });

        it("with both, the first `limit` after `after` that are before `before`", async () => {
          assert.deepEqual(await seqs({ after: 990, before: 1003, limit: 100 }), range(991, 1002));
          assert.deepEqual(await seqs({ after: 990, before: 1003, limit: 4 }), range(991, 994));
        });

        it("its last seq and activity are its newest message's", async () => {
          assert.deepEqual((await store().roomStates([room.id])).get(room.id), {
            roomId: room.id,
            lastSeq: total,
            lastActivity: messages[total - 1]?.createdAt,
          });
        });

        it("finds its latest 1,000 messages by id, in this room only", async () => {
          for (const seq of [total, 1_500, total - 999]) {
            const m = messages[seq - 1] as StoredMessage;
            assert.deepEqual(await store().messageById(room.id, m.id), m);
            assert.equal(await store().messageById(id(), m.id), undefined);
          }
        });

        it("paging backwards from the newest visits every seq once, with no gap", async () => {
          const seen: number[] = [];
          let page = await seqs({ limit: 100 });
          while (page.length > 0) {
            seen.unshift(...page);
            page = await seqs({ before: page[0] as number, limit: 100 });
          }
          assert.deepEqual(seen, range(1, total));
        });

        it("paging forwards from the start visits every seq once, with no gap", async () => {
          const seen: number[] = [];
          let page = await seqs({ after: 0, limit: 100 });
          while (page.length > 0) {
            seen.push(...page);
            page = await seqs({ after: page.at(-1) as number, limit: 100 });
          }
          assert.deepEqual(seen, range(1, total));
        });
      });
    });

    describe("read positions", () => {
      it("a read position moves forward and never back", async () => {
        const [room, user] = [id(), id()];
        const p = (seq: number, offsetMs = 0) => ({
          roomId: room,
          userId: user,
          seq,
          at: at(offsetMs),
        });
        const p5 = p(5);
        assert.deepEqual(await store().advanceReadPosition(p5), p5);
        const p9 = p(9, 10);
        assert.deepEqual(await store().advanceReadPosition(p9), p9);
        assert.deepEqual(await store().advanceReadPosition(p(3, 20)), p9);
        assert.deepEqual((await store().readPositions(user, [room])).get(room), p9);
      });

      it("concurrent advances end at the highest, and none resolves below its own", async () => {
        const [room, user] = [id(), id()];
        const seqs = range(1, 30).sort(() => Math.random() - 0.5);
        const held = await Promise.all(
          seqs.map((seq) =>
            store().advanceReadPosition({ roomId: room, userId: user, seq, at: at() }),
          ),
        );
        for (const [i, h] of held.entries()) assert.ok(h.seq >= (seqs[i] as number));
        assert.equal((await store().readPositions(user, [room])).get(room)?.seq, 30);
      });

      it("readPositions gives the user's positions in the rooms asked for that have one", async () => {
        const user = id();
        const [r1, r2, r3] = [id(), id(), id()];
        const p1 = { roomId: r1, userId: user, seq: 4, at: at() };
        const p2 = { roomId: r2, userId: user, seq: 7, at: at() };
        await store().advanceReadPosition(p1);
        await store().advanceReadPosition(p2);
        await store().advanceReadPosition({ roomId: r3, userId: id(), seq: 1, at: at() });
        const found = await store().readPositions(user, [r1, r2, r3]);
        assert.deepEqual(
          found,
          new Map([
            [r1, p1],
            [r2, p2],
          ]),
        );
      });

      it("roomReadPositions lists every member's position in the room", async () => {
        const room = id();
        const positions = range(1, 3).map((seq) => ({ roomId: room, userId: id(), seq, at: at() }));
        for (const p of positions) await store().advanceReadPosition(p);
        const sorted = positions.sort((x, y) => (x.userId < y.userId ? -1 : 1));
        assert.deepEqual(await store().roomReadPositions(room), sorted);
        assert.deepEqual(await store().roomReadPositions(id()), []);
      });
    });
  });
}
