import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../../shared/backends/store.memory.ts";
import type { User } from "../../shared/domain.ts";
import type { ChatError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import { linkToUser, signInAs, usernameBase } from "./linking.ts";
import type { ProviderIdentity } from "./sign-on.ts";

const ISSUER = "https://idp.example.test/realms/a";

const who = (over: Partial<ProviderIdentity> = {}): ProviderIdentity => ({
  issuer: ISSUER,
  subject: newId(),
  sessionId: undefined,
  email: "ada@example.test",
  emailVerified: true,
  preferredUsername: "ada",
  name: "Ada Lovelace",
  ...over,
});

const passwordUser = (username: string, email?: string): User => ({
  id: newId(),
  username,
  displayName: username,
  passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA",
  createdAt: new Date(),
  ...(email === undefined ? {} : { email }),
});

describe("which user a provider's account signs in as", () => {
  it("a first sign-in with no account of that email makes one, without a password", async () => {
    const store = new MemoryStore();
    const { user, kind } = await signInAs(store, who());
    assert.equal(kind, "created");
    assert.equal(user.username, "ada");
    assert.equal(user.displayName, "Ada Lovelace");
    assert.equal(user.passwordHash, "");
    assert.equal(user.email, "ada@example.test");
    assert.equal(user.emailVerified, true, "the provider vouched for it");
    assert.deepEqual(await store.getUser(user.id), user);
  });

  it("a later sign-in of the same (issuer, subject) is the same user", async () => {
    const store = new MemoryStore();
    const id = who();
    const first = await signInAs(store, id);
    const again = await signInAs(store, { ...id, email: "changed@example.test" });
    assert.equal(again.kind, "returning");
    assert.equal(again.user.id, first.user.id);
  });

  it("a verified email never links to a password account (its email is unverified): a new account, and the caller is told", async () => {
    const store = new MemoryStore();
    // whoever registered first with ada's address: we never checked it is theirs
    const squatter = passwordUser("ada-pw", "ada@example.test");
    await store.createUser(squatter);
    const signedIn = await signInAs(store, who());
    assert.equal(signedIn.kind, "created");
    assert.notEqual(signedIn.user.id, squatter.id);
    assert.equal(signedIn.unverifiedAccount, true);
    assert.equal(signedIn.user.emailVerified, true);
    // and a second provider with the same verified email finds the verified account, not the other
    const other = await signInAs(store, who({ issuer: "https://idp-b.example.test" }));
    assert.equal(other.kind, "linked-by-email");
    assert.equal(other.user.id, signedIn.user.id);
    assert.equal(other.unverifiedAccount, undefined);
  });

  it("a verified email links to the one account a sign-on made with it", async () => {
    const store = new MemoryStore();
    const first = await signInAs(store, who());
    const second = await signInAs(store, who({ issuer: "https://idp-b.example.test" }));
    assert.equal(second.kind, "linked-by-email");
    assert.equal(second.user.id, first.user.id);
  });

  it("an unverified email links to nothing, and is not kept on the new account", async () => {
    const store = new MemoryStore();
    const account = passwordUser("ada", "ada@example.test");
    await store.createUser(account);
    const { user, kind } = await signInAs(store, who({ emailVerified: false }));
    assert.equal(kind, "created");
    assert.notEqual(user.id, account.id);
    assert.match(user.username, /^ada-[0-9a-f]{4}$/, "the taken name gets a suffix");
    assert.equal(user.email, undefined);
  });

  it("an email two verified accounts share links to neither", async () => {
    const store = new MemoryStore();
    for (const name of ["one", "two"]) {
      await store.createUser({ ...passwordUser(name, "ada@example.test"), emailVerified: true });
    }
    const signedIn = await signInAs(store, who());
    assert.equal(signedIn.kind, "created");
    assert.equal(signedIn.unverifiedAccount, undefined);
  });

  it("a signed-in user links a provider's account to theirs; one held by another user is refused", async () => {
    const store = new MemoryStore();
    const account = passwordUser("ada-pw", "ada@example.test");
    await store.createUser(account);
    const id = who();
    await linkToUser(store, id, account);
    await linkToUser(store, id, account); // again: nothing changes
    const { user, kind } = await signInAs(store, id);
    assert.equal(kind, "returning");
    assert.equal(user.id, account.id);
    assert.equal(user.passwordHash, account.passwordHash, "the password keeps working");

    const someoneElse = passwordUser("eve", "eve@example.test");
    await store.createUser(someoneElse);
    await assert.rejects(
      linkToUser(store, id, someoneElse),
      (e: ChatError) =>
        e.code === "SSO_IDENTITY_LINKED" && /another Switchboard account/.test(e.message),
    );
    assert.equal((await store.getIdentity(id.issuer, id.subject))?.userId, account.id);
  });

  it("the same subject at another issuer is another account", async () => {
    const store = new MemoryStore();
    const a = await signInAs(store, who({ subject: "s1", email: undefined }));
    const b = await signInAs(store, who({ subject: "s1", email: undefined, issuer: "https://b" }));
    assert.notEqual(a.user.id, b.user.id);
  });

  it("concurrent first sign-ins of one account end as one user", async () => {
    const store = new MemoryStore();
    const id = who();
    const results = await Promise.all([1, 2, 3, 4].map(() => signInAs(store, id)));
    assert.equal(new Set(results.map((r) => r.user.id)).size, 1);
  });

  it("a link whose user is missing gets the user made on the next sign-in", async () => {
    const store = new MemoryStore();
    const id = who();
    const userId = newId();
    await store.linkIdentity({
      issuer: id.issuer,
      subject: id.subject,
      userId,
      linkedAt: new Date(),
    });
    const { user } = await signInAs(store, id);
    assert.equal(user.id, userId);
    assert.deepEqual(await store.getUser(userId), user);
  });

  it("usernames come from the provider's username, else the email, else 'user'", () => {
    assert.equal(usernameBase({ preferredUsername: "Ada.L", email: undefined }), "ada.l");
    assert.equal(usernameBase({ preferredUsername: "a b!c", email: undefined }), "a-b-c");
    assert.equal(usernameBase({ preferredUsername: "x", email: "grace+1@x.test" }), "grace-1");
    assert.equal(usernameBase({ preferredUsername: undefined, email: undefined }), "user");
    assert.equal(usernameBase({ preferredUsername: "é", email: "é@x" }), "user");
  });
});
