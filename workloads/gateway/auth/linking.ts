// Which of our users a provider's account signs in as (docs/decisions/0023-single-sign-on.md):
// 1. the user its (issuer, subject) is linked to, if any;
// 2. else the one account whose email is the provider's, but ONLY when the provider says the
//    email is verified (an unverified claim would let anyone take over that account) AND we
//    know the account's email is its owner's (`emailVerified`: made by a sign-on that vouched
//    for it). A password account's email was never verified by us: linking to it would hand
//    the person's sign-on to whoever registered their email first (pre-hijacking);
// 3. else a new account, with no password. When a password account with the email exists, the
//    caller is told (`unverifiedAccount`), so it can say how to link the two: sign in to the
//    password account and link the provider from there (linkToUser).
// The link is claimed once in the store (linkIdentity), so concurrent first sign-ins of one
// provider account on several gateways end as one user. A link whose user is missing (a process
// died between the two writes) gets its user made on the next sign-in.

import type { Store } from "../../shared/backends/store.ts";
import type { User } from "../../shared/domain.ts";
import { ChatError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import type { ProviderIdentity } from "./sign-on.ts";

export type SignInKind = "returning" | "linked-by-email" | "created";

export interface SignedIn {
  readonly user: User;
  readonly kind: SignInKind;
  /**
   * created: an account has the provider's email, unverified (a password account), and was not
   * linked; its owner links it from inside its session
   */
  readonly unverifiedAccount?: true;
}

/** Usernames are 3-32 of [a-zA-Z0-9_.-] (the REST schema's rule). */
const USERNAME = /^[a-z0-9_.-]{3,32}$/;
/** Tries of a name with a random suffix before giving up (each a conditional write). */
const NAME_TRIES = 6;

export async function signInAs(
  store: Store,
  who: ProviderIdentity,
  now: () => Date = () => new Date(),
): Promise<SignedIn> {
  const linked = await store.getIdentity(who.issuer, who.subject);
  if (linked !== undefined) {
    const user = await store.getUser(linked.userId);
    return { user: user ?? (await createFor(store, linked.userId, who, now())), kind: "returning" };
  }
  let target = newId();
  let kind: SignInKind = "created";
  let unverified = false;
  if (who.email !== undefined && who.emailVerified) {
    const sameEmail = await store.usersByEmail(who.email);
    const verified = sameEmail.filter((u) => u.emailVerified === true);
    // several verified accounts share the email: which one is the person's is not ours to guess
    if (verified.length === 1 && verified[0] !== undefined) {
      target = verified[0].id;
      kind = "linked-by-email";
    }
    unverified = verified.length === 0 && sameEmail.length > 0;
  }
  const holder = await store.linkIdentity({
    issuer: who.issuer,
    subject: who.subject,
    userId: target,
    linkedAt: now(),
  });
  // another gateway linked it first: its user it is
  if (holder !== target) kind = "returning";
  const user = await store.getUser(holder);
  return {
    user: user ?? (await createFor(store, holder, who, now())),
    kind,
    ...(kind === "created" && unverified ? { unverifiedAccount: true } : {}),
  };
}

/**
 * Links the provider's account to a signed-in user, at their request (a sign-on started from
 * inside their session): how a password account gets its owner's sign-on. Refused when the
 * provider's account already signs in as another user (SSO_IDENTITY_LINKED); linking it again
 * to the same user changes nothing.
 */
export async function linkToUser(
  store: Store,
  who: ProviderIdentity,
  user: User,
  now: () => Date = () => new Date(),
): Promise<void> {
  const holder = await store.linkIdentity({
    issuer: who.issuer,
    subject: who.subject,
    userId: user.id,
    linkedAt: now(),
  });
  if (holder !== user.id) {
    throw new ChatError(
      "SSO_IDENTITY_LINKED",
      "this account at the provider already signs in to another Switchboard account: sign in with it there, or link another account at the provider",
    );
  }
}

/** A new account for the provider's user, named after their username or email. */
async function createFor(
  store: Store,
  id: string,
  who: ProviderIdentity,
  createdAt: Date,
): Promise<User> {
  const base = usernameBase(who);
  for (let i = 0; i < NAME_TRIES; i++) {
    const user: User = {
      id,
      username: i === 0 ? base : `${base.slice(0, 27)}-${newId().slice(0, 4)}`,
      displayName: (who.name ?? who.preferredUsername ?? base).slice(0, 64),
      passwordHash: "",
      createdAt,
      // only a verified email is kept: a kept email is what later sign-ins link by
      ...(who.email !== undefined && who.emailVerified
        ? { email: who.email, emailVerified: true as const }
        : {}),
    };
    if (await store.createUser(user)) return user;
  }
  throw new Error(`no free username for ${base} after ${NAME_TRIES} tries`);
}

/** A valid username from what the provider tells, "user" when it tells nothing usable. */
export function usernameBase(who: Pick<ProviderIdentity, "preferredUsername" | "email">): string {
  for (const raw of [who.preferredUsername, who.email?.split("@")[0]]) {
    const name = (raw ?? "")
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 32);
    if (USERNAME.test(name)) return name;
  }
  return "user";
}
