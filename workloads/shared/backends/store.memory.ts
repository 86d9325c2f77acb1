// Store in memory, for the embedded default (`npm start`) and unit tests. Same semantics as
// store.cassandra.ts, proven by store.contract.ts. Values are copied in and out, so callers
// never share an object with the store.
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
import {
  type HistoryQuery,
  MAX_MESSAGES_PER_WRITE,
  MAX_USERS_BY_EMAIL,
  type SignOnLookup,
  type Store,
  signOnKey,
  signOnKeys,
} from "./store.ts";

const copy = <T>(value: T): T => structuredClone(value);

interface RoomLog {
  readonly messages: Map<number, StoredMessage>;
  lastSeq: number;
  lastActivity: Date;
}

interface TokenEntry {
  readonly token: RefreshToken;
  consumed: boolean;
}

/**
 * Expired refresh tokens and sign-on records are dropped at most this often, on a write of
 * one: a long-running embedded server would otherwise keep every token it ever issued
 * (Cassandra drops them by TTL).
 */
export const SWEEP_EVERY_MS = 60_000;

export interface MemoryStoreOptions {
  /** the clock for refresh-token expiry; default Date.now */
  readonly now?: () => number;
}

export class MemoryStore implements Store {
  readonly #now: () => number;
  readonly #users = new Map<string, User>();
  readonly #userIdByName = new Map<string, string>();
  /** email → user ids, in creation order */
  readonly #userIdsByEmail = new Map<string, string[]>();
  /** `${issuer} ${subject}` → link */
  readonly #identities = new Map<string, IdentityLink>();
  readonly #tokens = new Map<string, TokenEntry>();
  /** our session → the sign-on that started it */
  readonly #signOnBySession = new Map<string, SignOnSession>();
  /** `<issuer> sid:<sid>` or `<issuer> sub:<subject>` → our sessions (their sign-ons above) */
  readonly #signOnIndex = new Map<string, Set<string>>();
  readonly #revokedFamilies = new Set<string>();
  readonly #rooms = new Map<string, Room>();
  readonly #directRooms = new Map<string, string>();
  /** room id → user id → member */
  readonly #members = new Map<string, Map<string, Member>>();
  readonly #roomsByUser = new Map<string, Set<string>>();
  readonly #logs = new Map<string, RoomLog>();
  /** by room, then id */
  readonly #messagesById = new Map<string, Map<string, StoredMessage>>();
  /** room id → user id → position */
  readonly #positions = new Map<string, Map<string, ReadPosition>>();

  #sweptAt = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Refresh tokens and sign-on records held, expired ones included until the next sweep. */
  get heldSessionEntries(): { tokens: number; signOns: number } {
    let signOns = this.#signOnBySession.size;
    for (const held of this.#signOnIndex.values()) signOns += held.size;
    return { tokens: this.#tokens.size, signOns };
  }

  #sweepExpired(): void {
    const now = this.#now();
    if (now - this.#sweptAt < SWEEP_EVERY_MS) return;
    this.#sweptAt = now;
    for (const [id, e] of this.#tokens) {
      if (e.token.expiresAt.getTime() <= now) this.#tokens.delete(id);
    }
    for (const [sessionId, s] of this.#signOnBySession) {
      if (s.expiresAt.getTime() <= now) this.#signOnBySession.delete(sessionId);
    }
    for (const [key, held] of this.#signOnIndex) {
      for (const sessionId of held)
        if (!this.#signOnBySession.has(sessionId)) held.delete(sessionId);
      if (held.size === 0) this.#signOnIndex.delete(key);
    }
  }

  async createUser(user: User): Promise<boolean> {
    const holder = this.#userIdByName.get(user.username);
    // the same user again (a retry whose first attempt went through) is not a conflict
    if (holder !== undefined) return holder === user.id;
    this.#users.set(user.id, copy(user));
    this.#userIdByName.set(user.username, user.id);
    if (user.email !== undefined) {
      this.#userIdsByEmail.set(user.email, [
        ...(this.#userIdsByEmail.get(user.email) ?? []),
        user.id,
      ]);
    }
    return true;
  }

  async usersByEmail(email: string): Promise<User[]> {
    const ids = this.#userIdsByEmail.get(email) ?? [];
    return ids.slice(0, MAX_USERS_BY_EMAIL).map((id) => copy(this.#users.get(id) as User));
  }

  async linkIdentity(link: IdentityLink): Promise<string> {
    const key = `${link.issuer} ${link.subject}`;
    const held = this.#identities.get(key);
    if (held !== undefined) return held.userId;
    this.#identities.set(key, copy(link));
    return link.userId;
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityLink | undefined> {
    const link = this.#identities.get(`${issuer} ${subject}`);
    return link === undefined ? undefined : copy(link);
  }

  async getUser(id: string): Promise<User | undefined> {
    const user = this.#users.get(id);
    return user === undefined ? undefined : copy(user);
  }

  async getUserByName(username: string): Promise<User | undefined> {
    const id = this.#userIdByName.get(username);
    return id === undefined ? undefined : this.getUser(id);
  }

  async saveSignOnSession(session: SignOnSession): Promise<void> {
    this.#sweepExpired();
    if (session.expiresAt.getTime() <= this.#now()) return;
    this.#signOnBySession.set(session.sessionId, session);
    for (const key of signOnKeys(session)) {
      const at = `${session.issuer} ${key}`;
      const held = this.#signOnIndex.get(at) ?? new Set<string>();
      held.add(session.sessionId);
      this.#signOnIndex.set(at, held);
    }
  }

  async signOnOf(sessionId: string): Promise<SignOnSession | undefined> {
    const s = this.#signOnBySession.get(sessionId);
    return s === undefined || s.expiresAt.getTime() <= this.#now() ? undefined : s;
  }

  async signOnSessions(
    issuer: string,
    by: SignOnLookup,
  ): Promise<{ sessionId: string; userId: string }[]> {
    const held = this.#signOnIndex.get(`${issuer} ${signOnKey(by)}`) ?? [];
    const found: { sessionId: string; userId: string }[] = [];
    for (const sessionId of held) {
      const s = await this.signOnOf(sessionId);
      if (s !== undefined) found.push({ sessionId, userId: s.userId });
    }
    return found;
  }

  async saveRefreshToken(token: RefreshToken): Promise<void> {
    this.#sweepExpired();
    if (token.expiresAt.getTime() <= this.#now()) return;
    this.#tokens.set(token.id, { token: copy(token), consumed: false });
  }

  #liveToken(id: string): TokenEntry | undefined {
    const entry = this.#tokens.get(id);
    if (entry === undefined) return undefined;
    if (entry.token.expiresAt.getTime() <= this.#now()) {
      this.#tokens.delete(id);
      return undefined;
    }
    return entry;
  }

  async getRefreshToken(id: string): Promise<RefreshToken | undefined> {
    const entry = this.#liveToken(id);
    if (entry === undefined || this.#revokedFamilies.has(entry.token.family)) return undefined;
    return copy(entry.token);
  }

  async consumeRefreshToken(id: string): Promise<boolean> {
    const entry = this.#liveToken(id);
    if (entry === undefined || entry.consumed) return false;
    entry.consumed = true;
    return true;
  }

  async revokeRefreshFamily(family: string): Promise<void> {
    this.#revokedFamilies.add(family);
  }

  async revokedRefreshFamilies(families: readonly string[]): Promise<Set<string>> {
    return new Set(families.filter((f) => this.#revokedFamilies.has(f)));
  }

  async createRoom(room: Room, members: readonly Member[]): Promise<void> {
    for (const m of members) this.#putMember(m);
    this.#rooms.set(room.id, copy(room));
  }

  async ensureDirectRoom(room: Room, a: string, b: string): Promise<Room> {
    const pair = directPair(a, b);
    const existing = this.#directRooms.get(pair);
    if (existing !== undefined) {
      const found = this.#rooms.get(existing);
      if (found !== undefined) return copy(found);
    }
    this.#directRooms.set(pair, room.id);
    await this.createRoom(room, directMembers(room, a, b));
    return copy(room);
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const room = this.#rooms.get(id);
    return room === undefined ? undefined : copy(room);
  }

  async listChannels(limit: number): Promise<Room[]> {
    return [...this.#rooms.values()]
      .filter((r) => r.kind === "channel")
      .sort(newestFirst)
      .slice(0, Math.max(0, limit))
      .map(copy);
  }

  #putMember(member: Member): void {
    let members = this.#members.get(member.roomId);
    if (members === undefined) {
      members = new Map();
      this.#members.set(member.roomId, members);
    }
    members.set(member.userId, copy(member));
    let rooms = this.#roomsByUser.get(member.userId);
    if (rooms === undefined) {
      rooms = new Set();
      this.#roomsByUser.set(member.userId, rooms);
    }
    rooms.add(member.roomId);
  }

  async addMember(roomId: string, userId: string, role: MemberRole, at: Date): Promise<boolean> {
    if (this.#members.get(roomId)?.has(userId) === true) return false;
    this.#putMember({ roomId, userId, role, joinedAt: at });
    return true;
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const removed = this.#members.get(roomId)?.delete(userId) === true;
    this.#roomsByUser.get(userId)?.delete(roomId);
    return removed;
  }

  async getMember(roomId: string, userId: string): Promise<Member | undefined> {
    const member = this.#members.get(roomId)?.get(userId);
    return member === undefined ? undefined : copy(member);
  }

  async listMembers(roomId: string): Promise<Member[]> {
    return [...(this.#members.get(roomId)?.values() ?? [])]
      .sort((x, y) => compare(x.userId, y.userId))
      .map(copy);
  }

  async roomsOfUser(userId: string): Promise<string[]> {
    return [...(this.#roomsByUser.get(userId) ?? [])].sort(compare);
  }

  async messageById(roomId: string, id: string): Promise<StoredMessage | undefined> {
    const message = this.#messagesById.get(roomId)?.get(id);
    return message === undefined ? undefined : copy(message);
  }

  async messageAt(roomId: string, seq: number): Promise<StoredMessage | undefined> {
    const message = this.#logs.get(roomId)?.messages.get(seq);
    return message === undefined ? undefined : copy(message);
  }

  async persistMessages(messages: readonly StoredMessage[]): Promise<void> {
    checkWrite(messages);
    for (const m of messages) await this.persistMessage(m);
  }

  async persistMessage(message: StoredMessage): Promise<void> {
    const log = this.#log(message.roomId);
    const stored = copy(message);
    log.messages.set(message.seq, stored);
    let ids = this.#messagesById.get(message.roomId);
    if (ids === undefined) {
      ids = new Map();
      this.#messagesById.set(message.roomId, ids);
    }
    ids.set(message.id, stored);
    // the highest seq wins, as Cassandra's room_state does with USING TIMESTAMP <seq>
    if (
      message.seq > log.lastSeq ||
      (message.seq === log.lastSeq && message.createdAt > log.lastActivity)
    ) {
      log.lastSeq = message.seq;
      log.lastActivity = new Date(message.createdAt);
    }
  }

  #log(roomId: string): RoomLog {
    let log = this.#logs.get(roomId);
    if (log === undefined) {
      log = {
        messages: new Map(),
        lastSeq: 0,
        lastActivity: new Date(this.#rooms.get(roomId)?.createdAt ?? 0),
      };
      this.#logs.set(roomId, log);
    }
    return log;
  }

  async roomStates(roomIds: readonly string[]): Promise<Map<string, RoomState>> {
    const states = new Map<string, RoomState>();
    for (const roomId of roomIds) {
      const log = this.#logs.get(roomId);
      const created = this.#rooms.get(roomId)?.createdAt;
      states.set(roomId, {
        roomId,
        lastSeq: log?.lastSeq ?? 0,
        lastActivity: new Date(log?.lastActivity ?? created ?? 0),
      });
    }
    return states;
  }

  async history(roomId: string, query: HistoryQuery): Promise<StoredMessage[]> {
    checkLimit(query.limit);
    const log = this.#logs.get(roomId);
    if (log === undefined) return [];
    const page: StoredMessage[] = [];
    if (query.after !== undefined) {
      const end = Math.min(log.lastSeq, (query.before ?? Number.POSITIVE_INFINITY) - 1);
      for (let seq = query.after + 1; seq <= end && page.length < query.limit; seq++) {
        const m = log.messages.get(seq);
        if (m !== undefined) page.push(copy(m));
      }
      return page;
    }
    const start = Math.min(log.lastSeq, (query.before ?? Number.POSITIVE_INFINITY) - 1);
    for (let seq = start; seq >= 1 && page.length < query.limit; seq--) {
      const m = log.messages.get(seq);
      if (m !== undefined) page.push(copy(m));
    }
    return page.reverse();
  }

  async latest(
    roomId: string,
    limit: number,
  ): Promise<{ readonly lastSeq: number; readonly messages: StoredMessage[] }> {
    const messages = await this.history(roomId, { limit });
    const lastSeq = this.#logs.get(roomId)?.lastSeq ?? 0;
    return { lastSeq: Math.max(lastSeq, messages.at(-1)?.seq ?? 0), messages };
  }

  async advanceReadPosition(position: ReadPosition): Promise<ReadPosition> {
    let positions = this.#positions.get(position.roomId);
    if (positions === undefined) {
      positions = new Map();
      this.#positions.set(position.roomId, positions);
    }
    const held = positions.get(position.userId);
    // the highest seq wins, as Cassandra's read_positions does with USING TIMESTAMP <seq>
    if (
      held === undefined ||
      position.seq > held.seq ||
      (position.seq === held.seq && position.at > held.at)
    ) {
      positions.set(position.userId, copy(position));
      return copy(position);
    }
    return copy(held);
  }

  async readPositions(
    userId: string,
    roomIds: readonly string[],
  ): Promise<Map<string, ReadPosition>> {
    const found = new Map<string, ReadPosition>();
    for (const roomId of roomIds) {
      const p = this.#positions.get(roomId)?.get(userId);
      if (p !== undefined) found.set(roomId, copy(p));
    }
    return found;
  }

  async roomReadPositions(roomId: string): Promise<ReadPosition[]> {
    return [...(this.#positions.get(roomId)?.values() ?? [])]
      .sort((x, y) => compare(x.userId, y.userId))
      .map(copy);
  }

  /** In-process: always reachable. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

/** The key of the one direct room of two users: their ids sorted, joined by ":". */
export function directPair(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** The members a new direct room starts with. */
export function directMembers(room: Room, a: string, b: string): Member[] {
  return [...new Set([a, b])].map((userId) => ({
    roomId: room.id,
    userId,
    role: "member",
    joinedAt: room.createdAt,
  }));
}

/** Throws on a limit outside 1..100: the edges parse it before it gets here. */
/** persistMessages' rule: 1..MAX_MESSAGES_PER_WRITE messages, all of one room. */
export function checkWrite(messages: readonly StoredMessage[]): void {
  if (messages.length < 1 || messages.length > MAX_MESSAGES_PER_WRITE) {
    throw new RangeError(
      `persistMessages takes 1 to ${MAX_MESSAGES_PER_WRITE} messages, got ${messages.length}`,
    );
  }
  const roomId = messages[0]?.roomId;
  if (messages.some((m) => m.roomId !== roomId)) {
    throw new RangeError("persistMessages takes the messages of one room");
  }
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new RangeError(`history limit must be an integer from 1 to 100, got ${limit}`);
  }
}

const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/** Channel discovery order: newest first, then by id. */
export const newestFirst = (x: Room, y: Room): number =>
  y.createdAt.getTime() - x.createdAt.getTime() || compare(x.id, y.id);
