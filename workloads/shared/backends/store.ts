// Store: the durable record of users, rooms, members, messages, read positions and refresh
// tokens. Cassandra in production (store.cassandra.ts), memory for the embedded default and
// unit tests (store.memory.ts); both pass store.contract.ts.
import type {
  IdentityLink,
  Member,
  MemberRole,
  ReadPosition,
  RefreshToken,
  Room,
  RoomState,
  SignOnSession,
  StoredMessage,
  User,
} from "../domain.ts";

export interface HistoryQuery {
  /** only messages with seq < before */
  readonly before?: number;
  /** only messages with seq > after */
  readonly after?: number;
  /** 1..100 */
  readonly limit: number;
}

/** Most users usersByEmail resolves. */
export const MAX_USERS_BY_EMAIL = 10;

/** Most messages persistMessages takes at once (a Cassandra batch stays well under its limits). */
export const MAX_MESSAGES_PER_WRITE = 16;

export interface Store {
  /**
   * Creates the user; resolves false (and writes nothing) when the username is taken by another
   * user id. Creating the same user (same id) again resolves true, so a retry is safe.
   */
  createUser(user: User): Promise<boolean>;
  getUser(id: string): Promise<User | undefined>;
  getUserByName(username: string): Promise<User | undefined>;
  /**
   * The users with this (lower-cased) email, oldest first, at most MAX_USERS_BY_EMAIL. An email
   * is not unique: single sign-on links by it only when exactly one account has it.
   */
  usersByEmail(email: string): Promise<User[]>;

  /**
   * Links a provider's account to a user, once: resolves the user id the (issuer, subject) pair
   * is linked to after the call, which is `link.userId` for the first caller and the earlier
   * holder's for every later one (also across processes).
   */
  linkIdentity(link: IdentityLink): Promise<string>;
  getIdentity(issuer: string, subject: string): Promise<IdentityLink | undefined>;

  /**
   * Remembers which of our sessions a provider's sign-on started, until `expiresAt`, so the
   * provider's back-channel logout can end it. Saving the same session again with a later
   * `expiresAt` keeps it that much longer (a refresh of our session renews it).
   */
  saveSignOnSession(session: SignOnSession): Promise<void>;
  /** The sign-on that started our session `sessionId`, while it is remembered. */
  signOnOf(sessionId: string): Promise<SignOnSession | undefined>;
  /**
   * Our sessions (and their users) that the issuer's session `sid` started, or, by `subject`,
   * that any sign-on of that subject there started; expired ones are left out.
   */
  signOnSessions(
    issuer: string,
    by: SignOnLookup,
  ): Promise<{ sessionId: string; userId: string }[]>;

  saveRefreshToken(token: RefreshToken): Promise<void>;
  getRefreshToken(id: string): Promise<RefreshToken | undefined>;
  /**
   * Marks a refresh token used, exactly once: resolves true for the first caller and false for
   * every later one (a reuse), also across processes.
   */
  consumeRefreshToken(id: string): Promise<boolean>;
  /** Revokes every token of the family: later getRefreshToken of any of them is undefined. */
  revokeRefreshFamily(family: string): Promise<void>;
  /**
   * The families among `families` that are revoked. A family is a login session: access tokens
   * carry it (`sid`), so the gateway asks this to refuse a logged-out session's access tokens.
   */
  revokedRefreshFamilies(families: readonly string[]): Promise<Set<string>>;

  /** Creates a room with its first members. */
  createRoom(room: Room, members: readonly Member[]): Promise<void>;
  /**
   * The one direct room between two users: creates it if absent, atomically, so two
   * concurrent first messages end in the same room. Resolves the room that exists.
   */
  ensureDirectRoom(room: Room, a: string, b: string): Promise<Room>;
  getRoom(id: string): Promise<Room | undefined>;
  /** Public channels, for discovery: newest first, at most `limit`. */
  listChannels(limit: number): Promise<Room[]>;

  /** Adds the member; resolves false if they already were one. */
  addMember(roomId: string, userId: string, role: MemberRole, at: Date): Promise<boolean>;
  /** Removes the member; resolves false if they were not one. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
  getMember(roomId: string, userId: string): Promise<Member | undefined>;
  listMembers(roomId: string): Promise<Member[]>;
  /** Room ids the user is a member of. */
  roomsOfUser(userId: string): Promise<string[]>;

  /**
   * The room's stored message with this id, while it is among the room's latest 1,000 messages
   * at least (Cassandra looks in the room's newest buckets of history, decision 0026; the memory
   * store finds any). An older one may be missed: callers treat that as never stored.
   */
  messageById(roomId: string, id: string): Promise<StoredMessage | undefined>;
  /** The room's message at this seq, if one is stored. */
  messageAt(roomId: string, seq: number): Promise<StoredMessage | undefined>;
  /**
   * Persists a message idempotently: writing the same message (same id and seq) again changes
   * nothing. Also advances the room's state (last seq, last activity). A room's messages are
   * written in seq order (retries and replays may repeat older ones), as the forwarder does:
   * Cassandra's reading of a room's last seq rests on it (decision 0026).
   */
  persistMessage(message: StoredMessage): Promise<void>;
  /**
   * Persists a room's consecutive messages (at most MAX_MESSAGES_PER_WRITE) in one write where
   * the backend allows, as persistMessage would one by one. After a failure some may be stored:
   * write them all again.
   */
  persistMessages(messages: readonly StoredMessage[]): Promise<void>;
  /**
   * Last seq and activity of each room asked for; rooms with no message have lastSeq 0 and their
   * creation time as last activity (the epoch for an unknown room).
   */
  roomStates(roomIds: readonly string[]): Promise<Map<string, RoomState>>;
  /**
   * A page of a room's history, in ascending seq order: the `limit` messages right before
   * `before`, or right after `after`, or the newest `limit` when neither is given.
   */
  history(roomId: string, query: HistoryQuery): Promise<StoredMessage[]>;
  /**
   * The room's newest `limit` messages (1..100, ascending, as history gives them) and its last
   * seq: the newest stored message's, or the room's state where that names a higher one (0 for
   * a room with no message). One read where history's newest page is one (Cassandra: the
   * room's state and the buckets it names); a member taking a room over reads it.
   */
  latest(
    roomId: string,
    limit: number,
  ): Promise<{ readonly lastSeq: number; readonly messages: StoredMessage[] }>;

  /** Moves the user's read position forward; never backwards. Resolves the position now held. */
  advanceReadPosition(position: ReadPosition): Promise<ReadPosition>;
  readPositions(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadPosition>>;
  roomReadPositions(roomId: string): Promise<ReadPosition[]>;

  /** Resolves while the backend can serve now; rejects saying why (bounded in time). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What signOnSessions finds our sessions by: a provider session, or a subject. */
export type SignOnLookup = { readonly sid: string } | { readonly subject: string };

/** The key a lookup reads (`sid:<sid>` or `sub:<subject>`) under its issuer. */
export const signOnKey = (by: SignOnLookup): string =>
  "sid" in by ? `sid:${by.sid}` : `sub:${by.subject}`;

/** The keys a sign-on session is saved under: its subject's, and its provider session's. */
export const signOnKeys = (s: SignOnSession): string[] => [
  signOnKey({ subject: s.subject }),
  ...(s.providerSessionId === undefined ? [] : [signOnKey({ sid: s.providerSessionId })]),
];
