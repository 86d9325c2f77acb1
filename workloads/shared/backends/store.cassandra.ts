// Store on Cassandra: the tables of workloads/contract/schema/migrations, one per query (see
// docs/decisions/0004-cassandra-data-model.md). Prepared statements, LOCAL_QUORUM reads and
// writes, LOCAL_SERIAL for lightweight transactions, a timeout on every query, paging where a
// list can be long. Same semantics as store.memory.ts, proven by store.contract.ts.
import { Client, type ClientOptions, policies, type QueryOptions, types } from "cassandra-driver";
import { validateKeyspace } from "#contract/schema/migrate";
import type {
  IdentityLink,
  Member,
  MemberRole,
  MessageContent,
  MsgType,
  ReadPosition,
  RefreshToken,
  Room,
  RoomKind,
  RoomState,
  SignOnSession,
  StoredMessage,
  User,
} from "../domain.ts";
import { checkLimit, checkWrite, directMembers, directPair } from "./store.memory.ts";
import {
  type HistoryQuery,
  MAX_USERS_BY_EMAIL,
  type SignOnLookup,
  type Store,
  signOnKey,
  signOnKeys,
} from "./store.ts";

/** Messages per partition of `messages`: bucket = floor(seq / BUCKET_SIZE). */
export const BUCKET_SIZE = 1000;
export const bucketOf = (seq: number): number => Math.floor(seq / BUCKET_SIZE);

/** The single partition of the channel listing. */
const CHANNEL_SHARD = 0;
const PAGE_SIZE = 500;
/** point reads issued at once by roomStates and readPositions */
const PARALLEL_READS = 32;

export interface CassandraStoreOptions {
  /** per-query timeout; default 5 000 ms */
  readonly timeoutMs?: number;
  /** timeout of a lightweight transaction (four round trips); default 10 000 ms */
  readonly lwtTimeoutMs?: number;
  /**
   * How long a revoked refresh family stays revoked; must be at least the longest refresh-token
   * lifetime (a longer-lived token is refused by saveRefreshToken). Default 90 days.
   */
  readonly revocationHorizonSeconds?: number;
  /** close() shuts the client down; set by connect() */
  readonly ownsClient?: boolean;
  /** the clock for refresh-token expiry; default Date.now */
  readonly now?: () => number;
}

export interface CassandraConnectOptions extends CassandraStoreOptions {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;
  /** anything else for the driver (credentials, TLS, pooling) */
  readonly clientOptions?: Omit<ClientOptions, "contactPoints" | "localDataCenter" | "keyspace">;
}

type Row = types.Row;
type Params = readonly unknown[];

const USER_COLS = "username, display_name, password_hash, created_at, email, email_verified";
const MESSAGE_COLS =
  "id, sender_id, client_msg_id, msg_type, content_text, content_url, content_name, " +
  "content_size, content_mime, created_at, reply_to";

/** A connected client with the workloads' timeouts and reconnection policy. */
export async function connectCassandraClient(
  options: Omit<CassandraConnectOptions, "keyspace">,
): Promise<Client> {
  const client = new Client({
    socketOptions: { connectTimeout: 10_000, readTimeout: 12_000 },
    // the driver's default waits 1 s doubling to 10 min between tries to reach a node that went
    // away: after an outage of half a minute a process stayed without Cassandra for another
    // 20-30 s (the chaos suite); 200 ms doubling to 2 s finds it back within about 2 s
    policies: {
      reconnection: new policies.reconnection.ExponentialReconnectionPolicy(200, 2_000, false),
    },
    ...options.clientOptions,
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
  });
  await client.connect();
  return client;
}

export class CassandraStore implements Store {
  readonly #client: Client;
  readonly #ks: string;
  readonly #timeoutMs: number;
  readonly #lwtTimeoutMs: number;
  readonly #horizonSeconds: number;
  readonly #ownsClient: boolean;
  readonly #now: () => number;

  /** `client` must be connected; the store qualifies every table with `keyspace`. */
  constructor(client: Client, keyspace: string, options: CassandraStoreOptions = {}) {
    const ks = validateKeyspace(keyspace);
    if (!ks.ok) throw new RangeError(ks.error.message);
    this.#client = client;
    this.#ks = ks.value;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#lwtTimeoutMs = options.lwtTimeoutMs ?? 10_000;
    this.#horizonSeconds = options.revocationHorizonSeconds ?? 90 * 24 * 3600;
    this.#ownsClient = options.ownsClient ?? false;
    this.#now = options.now ?? Date.now;
  }

  /** Connects a client of its own (shut down by close()) to an already migrated keyspace. */
  static async connect(options: CassandraConnectOptions): Promise<CassandraStore> {
    const client = await connectCassandraClient(options);
    return new CassandraStore(client, options.keyspace, { ...options, ownsClient: true });
  }

  // ---- users ----

  async createUser(user: User): Promise<boolean> {
    const values = [
      user.username,
      user.displayName,
      user.passwordHash,
      user.createdAt,
      user.email ?? null,
      user.emailVerified === true,
    ];
    // the row by id first: if the name turns out taken it is removed again, and if this process
    // dies before the name is claimed, nobody ever learns the fresh id
    await this.#write(
      `INSERT INTO ${this.#ks}.users (id, ${USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [user.id, ...values],
    );
    const claim = await this.#lwt(
      `INSERT INTO ${this.#ks}.users_by_name (user_id, ${USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) ` +
        "IF NOT EXISTS",
      [user.id, ...values],
    );
    // the same user again (a retry whose first attempt went through) is not a conflict
    if (!claim.wasApplied() && claim.first()?.get("user_id") !== user.id) {
      await this.#write(`DELETE FROM ${this.#ks}.users WHERE id = ?`, [user.id]);
      return false;
    }
    // last, once the name is ours: a user found by email always exists (a death before this
    // write leaves the user unlisted by email, which only means single sign-on does not link it)
    if (user.email !== undefined) {
      await this.#write(
        `INSERT INTO ${this.#ks}.users_by_email (email, created_at, user_id) VALUES (?, ?, ?)`,
        [user.email, user.createdAt, user.id],
      );
    }
    return true;
  }

  async usersByEmail(email: string): Promise<User[]> {
    const rs = await this.#client.execute(
      `SELECT user_id FROM ${this.#ks}.users_by_email WHERE email = ? LIMIT ${MAX_USERS_BY_EMAIL}`,
      [email],
      this.#options(),
    );
    const users = await Promise.all(rs.rows.map((r) => this.getUser(text(r, "user_id"))));
    return users.filter((u): u is User => u !== undefined);
  }

  async linkIdentity(link: IdentityLink): Promise<string> {
    const claim = await this.#lwt(
      `INSERT INTO ${this.#ks}.identities (issuer, subject, user_id, linked_at) VALUES (?, ?, ?, ?) ` +
        "IF NOT EXISTS",
      [link.issuer, link.subject, link.userId, link.linkedAt],
    );
    return claim.wasApplied() ? link.userId : text(claim.first() as Row, "user_id");
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityLink | undefined> {
    const row = await this.#one(
      `SELECT user_id, linked_at FROM ${this.#ks}.identities WHERE issuer = ? AND subject = ?`,
      [issuer, subject],
    );
    return row === undefined
      ? undefined
      : { issuer, subject, userId: text(row, "user_id"), linkedAt: date(row, "linked_at") };
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await this.#one(`SELECT ${USER_COLS} FROM ${this.#ks}.users WHERE id = ?`, [id]);
    return row === undefined ? undefined : userFromRow(id, row);
  }

  async getUserByName(username: string): Promise<User | undefined> {
    const row = await this.#one(
      `SELECT user_id, ${USER_COLS} FROM ${this.#ks}.users_by_name WHERE username = ?`,
      [username],
    );
    return row === undefined ? undefined : userFromRow(text(row, "user_id"), row);
  }

  // ---- refresh tokens ----

  async saveSignOnSession(session: SignOnSession): Promise<void> {
    const ttl = this.#secondsUntil(session.expiresAt);
    if (ttl <= 0) return;
    await Promise.all([
      ...signOnKeys(session).map((key) =>
        this.#write(
          `INSERT INTO ${this.#ks}.sign_on_sessions (issuer, key, session_id, user_id) ` +
            "VALUES (?, ?, ?, ?) USING TTL ?",
          [session.issuer, key, session.sessionId, session.userId, ttl],
        ),
      ),
      this.#write(
        `INSERT INTO ${this.#ks}.sign_on_by_session ` +
          "(session_id, issuer, subject, provider_session_id, user_id) VALUES (?, ?, ?, ?, ?) " +
          "USING TTL ?",
        [
          session.sessionId,
          session.issuer,
          session.subject,
          session.providerSessionId ?? null,
          session.userId,
          ttl,
        ],
      ),
    ]);
  }

  async signOnOf(sessionId: string): Promise<SignOnSession | undefined> {
    const row = await this.#one(
      "SELECT issuer, subject, provider_session_id, user_id, TTL(user_id) AS ttl " +
        `FROM ${this.#ks}.sign_on_by_session WHERE session_id = ?`,
      [sessionId],
    );
    if (row === undefined) return undefined;
    return {
      issuer: text(row, "issuer"),
      subject: text(row, "subject"),
      providerSessionId: optText(row, "provider_session_id"),
      sessionId,
      userId: text(row, "user_id"),
      expiresAt: new Date(this.#now() + num(row, "ttl") * 1000),
    };
  }

  async signOnSessions(
    issuer: string,
    by: SignOnLookup,
  ): Promise<{ sessionId: string; userId: string }[]> {
    const key = signOnKey(by);
    const rows = await this.#rows(
      `SELECT session_id, user_id FROM ${this.#ks}.sign_on_sessions WHERE issuer = ? AND key = ?`,
      [issuer, key],
    );
    return rows.map((row) => ({
      sessionId: text(row, "session_id"),
      userId: text(row, "user_id"),
    }));
  }

  async saveRefreshToken(token: RefreshToken): Promise<void> {
    const ttl = this.#secondsUntil(token.expiresAt);
    if (ttl <= 0) return;
    if (ttl > this.#horizonSeconds) {
      throw new RangeError(
        `refresh token lives ${ttl} s, longer than the store's revocation horizon ` +
          `(${this.#horizonSeconds} s): raise revocationHorizonSeconds`,
      );
    }
    await this.#write(
      `INSERT INTO ${this.#ks}.refresh_tokens (id, user_id, family, expires_at, consumed) ` +
        "VALUES (?, ?, ?, ?, false) USING TTL ?",
      [token.id, token.userId, token.family, token.expiresAt, ttl],
    );
  }

  async getRefreshToken(id: string): Promise<RefreshToken | undefined> {
    const row = await this.#one(
      `SELECT user_id, family, expires_at FROM ${this.#ks}.refresh_tokens WHERE id = ?`,
      [id],
    );
    if (row === undefined) return undefined;
    const token: RefreshToken = {
      id,
      userId: text(row, "user_id"),
      family: text(row, "family"),
      expiresAt: date(row, "expires_at"),
    };
    if (this.#secondsUntil(token.expiresAt) <= 0) return undefined;
    const family = await this.#one(
      `SELECT revoked FROM ${this.#ks}.refresh_token_families WHERE family = ?`,
      [token.family],
    );
    return family?.get("revoked") === true ? undefined : token;
  }

  async consumeRefreshToken(id: string): Promise<boolean> {
    const row = await this.#one(
      `SELECT expires_at, consumed FROM ${this.#ks}.refresh_tokens WHERE id = ?`,
      [id],
    );
    if (row === undefined || row.get("consumed") !== false) return false;
    const ttl = this.#secondsUntil(date(row, "expires_at"));
    if (ttl <= 0) return false;
    // the flag expires with the token; `IF consumed = false` is false for a missing row, so
    // this never creates one
    const rs = await this.#lwt(
      `UPDATE ${this.#ks}.refresh_tokens USING TTL ? SET consumed = true WHERE id = ? ` +
        "IF consumed = false",
      [ttl, id],
    );
    return rs.wasApplied();
  }

  async revokeRefreshFamily(family: string): Promise<void> {
    await this.#write(
      `UPDATE ${this.#ks}.refresh_token_families USING TTL ? SET revoked = true WHERE family = ?`,
      [this.#horizonSeconds, family],
    );
  }

  async revokedRefreshFamilies(families: readonly string[]): Promise<Set<string>> {
    const revoked = new Set<string>();
    await forEachLimited([...new Set(families)], PARALLEL_READS, async (family) => {
      const row = await this.#one(
        `SELECT revoked FROM ${this.#ks}.refresh_token_families WHERE family = ?`,
        [family],
      );
      if (row?.get("revoked") === true) revoked.add(family);
    });
    return revoked;
  }

  #secondsUntil(at: Date): number {
    return Math.ceil((at.getTime() - this.#now()) / 1000);
  }

  // ---- rooms and members ----

  async createRoom(room: Room, members: readonly Member[]): Promise<void> {
    // members first, the room row last: a room that can be found has its members
    for (let i = 0; i < members.length; i += 100) {
      await this.#batch(
        members.slice(i, i + 100).map((m) => ({
          query: `INSERT INTO ${this.#ks}.members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`,
          params: [room.id, m.userId, m.role, m.joinedAt],
        })),
        false,
      );
    }
    await forEachLimited(members, PARALLEL_READS, (m) =>
      this.#write(`INSERT INTO ${this.#ks}.rooms_by_user (user_id, room_id) VALUES (?, ?)`, [
        m.userId,
        room.id,
      ]),
    );
    const queries: { query: string; params: Params }[] = [
      {
        // timestamp 0: any message's state (written at timestamp seq >= 1) wins over it
        query:
          `INSERT INTO ${this.#ks}.room_state (room_id, last_seq, last_activity) ` +
          "VALUES (?, 0, ?) USING TIMESTAMP 0",
        params: [room.id, room.createdAt],
      },
      {
        query: `INSERT INTO ${this.#ks}.rooms (id, kind, name, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
        params: [room.id, room.kind, room.name, room.createdBy, room.createdAt],
      },
    ];
    if (room.kind === "channel") {
      queries.push({
        query:
          `INSERT INTO ${this.#ks}.channels (shard, created_at, room_id, name, created_by) ` +
          "VALUES (?, ?, ?, ?, ?)",
        params: [CHANNEL_SHARD, room.createdAt, room.id, room.name, room.createdBy],
      });
    }
    await this.#batch(queries, true);
  }

  async ensureDirectRoom(room: Room, a: string, b: string): Promise<Room> {
    const claim = await this.#lwt(
      `INSERT INTO ${this.#ks}.direct_rooms (pair, room_id, created_by, created_at) ` +
        "VALUES (?, ?, ?, ?) IF NOT EXISTS",
      [directPair(a, b), room.id, room.createdBy, room.createdAt],
    );
    if (claim.wasApplied()) {
      await this.createRoom(room, directMembers(room, a, b));
      return { ...room, createdAt: new Date(room.createdAt) };
    }
    const row = claim.first();
    if (row === undefined) throw new Error("ensureDirectRoom: LWT returned no existing row");
    const found = await this.getRoom(text(row, "room_id"));
    if (found !== undefined) return found;
    // the winner has not written its room yet, or died first: write it from the claim, with
    // the very values the winner writes
    const claimed: Room = {
      id: text(row, "room_id"),
      kind: "direct",
      name: null,
      createdBy: text(row, "created_by"),
      createdAt: date(row, "created_at"),
    };
    await this.createRoom(claimed, directMembers(claimed, a, b));
    return claimed;
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const row = await this.#one(
      `SELECT kind, name, created_by, created_at FROM ${this.#ks}.rooms WHERE id = ?`,
      [id],
    );
    if (row === undefined) return undefined;
    return {
      id,
      kind: text(row, "kind") as RoomKind,
      name: optText(row, "name") ?? null,
      createdBy: text(row, "created_by"),
      createdAt: date(row, "created_at"),
    };
  }

  async listChannels(limit: number): Promise<Room[]> {
    if (limit < 1) return [];
    const rows = await this.#rows(
      `SELECT room_id, name, created_by, created_at FROM ${this.#ks}.channels WHERE shard = ?`,
      [CHANNEL_SHARD],
      limit,
    );
    return rows.map((row) => ({
      id: text(row, "room_id"),
      kind: "channel",
      name: optText(row, "name") ?? null,
      createdBy: text(row, "created_by"),
      createdAt: date(row, "created_at"),
    }));
  }

  async addMember(roomId: string, userId: string, role: MemberRole, at: Date): Promise<boolean> {
    const rs = await this.#lwt(
      `INSERT INTO ${this.#ks}.members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) ` +
        "IF NOT EXISTS",
      [roomId, userId, role, at],
    );
    // also when not applied: the user is a member, and this repairs an add that died half-way
    await this.#write(`INSERT INTO ${this.#ks}.rooms_by_user (user_id, room_id) VALUES (?, ?)`, [
      userId,
      roomId,
    ]);
    return rs.wasApplied();
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const rs = await this.#lwt(
      `DELETE FROM ${this.#ks}.members WHERE room_id = ? AND user_id = ? IF EXISTS`,
      [roomId, userId],
    );
    await this.#write(`DELETE FROM ${this.#ks}.rooms_by_user WHERE user_id = ? AND room_id = ?`, [
      userId,
      roomId,
    ]);
    return rs.wasApplied();
  }

  async getMember(roomId: string, userId: string): Promise<Member | undefined> {
    const row = await this.#one(
      `SELECT role, joined_at FROM ${this.#ks}.members WHERE room_id = ? AND user_id = ?`,
      [roomId, userId],
    );
    return row === undefined ? undefined : memberFromRow(roomId, userId, row);
  }

  async listMembers(roomId: string): Promise<Member[]> {
    const rows = await this.#rows(
      `SELECT user_id, role, joined_at FROM ${this.#ks}.members WHERE room_id = ?`,
      [roomId],
    );
    return rows.map((row) => memberFromRow(roomId, text(row, "user_id"), row));
  }

  async roomsOfUser(userId: string): Promise<string[]> {
    const rows = await this.#rows(
      `SELECT room_id FROM ${this.#ks}.rooms_by_user WHERE user_id = ?`,
      [userId],
    );
    return rows.map((row) => text(row, "room_id"));
  }

  // ---- messages ----

  /**
   * The id's seq from message_ids in the room's newest buckets (the one its state names, the one
   * after and the one before: at least the room's latest BUCKET_SIZE messages), then its row.
   */
  async messageById(roomId: string, id: string): Promise<StoredMessage | undefined> {
    const top = bucketOf((await this.#stateRow(roomId)).marked) + 1;
    const found = await Promise.all(
      [top, top - 1, top - 2]
        .filter((b) => b >= 0)
        .map((b) =>
          this.#one(
            `SELECT seq FROM ${this.#ks}.message_ids WHERE room_id = ? AND bucket = ? AND id = ?`,
            [roomId, b, id],
          ),
        ),
    );
    const row = found.find((r) => r !== undefined);
    if (row === undefined) return undefined;
    const message = await this.messageAt(roomId, num(row, "seq"));
    return message?.id === id ? message : undefined;
  }

  async messageAt(roomId: string, seq: number): Promise<StoredMessage | undefined> {
    const row = await this.#one(
      `SELECT seq, ${MESSAGE_COLS} FROM ${this.#ks}.messages WHERE room_id = ? AND bucket = ? AND seq = ?`,
      [roomId, bucketOf(seq), seq],
    );
    return row === undefined ? undefined : messageFromRow(roomId, row);
  }

  persistMessage(m: StoredMessage): Promise<void> {
    return this.persistMessages([m]);
  }

  /**
   * One request per bucket the write spans (a lone message: one request): the messages' rows
   * and their message_ids rows share the partition key (room_id, bucket), so Cassandra applies
   * them as one mutation — one commit-log entry, atomic and isolated — where a second table
   * keyed otherwise cost a second partition, a second mutation and a second request
   * (docs/decisions/0026). Buckets are written in seq order. room_state is written once per
   * bucket, after the rows of the bucket's first seq, so the room's rows never reach past the
   * bucket after the one its state names; readers take the room's last seq from its newest
   * rows (#roomState). A failure part way is repaired by writing them all again (every write is
   * idempotent).
   */
  async persistMessages(messages: readonly StoredMessage[]): Promise<void> {
    checkWrite(messages);
    const buckets = [...Map.groupBy(messages, (m) => bucketOf(m.seq))].sort(([a], [b]) => a - b);
    for (const [bucket, inBucket] of buckets) {
      await this.#batch(
        inBucket.flatMap((m) => this.#messageRows(m, bucket)),
        false,
      );
      const first = inBucket.find((m) => m.seq === bucket * BUCKET_SIZE);
      if (first !== undefined && bucket > 0) {
        // timestamp = seq: the highest seq wins whatever order writes land in (a replay too)
        await this.#write(
          `INSERT INTO ${this.#ks}.room_state (room_id, last_seq, last_activity) ` +
            "VALUES (?, ?, ?) USING TIMESTAMP ?",
          [first.roomId, first.seq, first.createdAt, first.seq],
        );
      }
    }
  }

  /** A message's row and its message_ids row: one partition key, so one mutation. */
  #messageRows(m: StoredMessage, bucket: number): { query: string; params: Params }[] {
    const c = m.content;
    const marks = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";
    return [
      {
        query: `INSERT INTO ${this.#ks}.messages (room_id, bucket, seq, ${MESSAGE_COLS}) VALUES (?, ?, ?, ${marks})`,
        params: [
          m.roomId,
          bucket,
          m.seq,
          m.id,
          m.senderId,
          m.clientMsgId,
          m.msgType,
          c.text ?? null,
          c.key === undefined ? (c.url ?? null) : `${OBJECT_URL_SCHEME}${c.key}`,
          c.name ?? null,
          c.size ?? null,
          c.mime ?? null,
          m.createdAt,
          m.replyTo ?? null,
        ],
      },
      {
        query: `INSERT INTO ${this.#ks}.message_ids (room_id, bucket, id, seq) VALUES (?, ?, ?, ?)`,
        params: [m.roomId, bucket, m.id, m.seq],
      },
    ];
  }

  async roomStates(roomIds: readonly string[]): Promise<Map<string, RoomState>> {
    const states = new Map<string, RoomState>();
    await forEachLimited([...new Set(roomIds)], PARALLEL_READS, async (roomId) => {
      states.set(roomId, await this.#roomState(roomId));
    });
    return states;
  }

  /**
   * The room's last seq and activity, from its newest row: room_state names a seq (the first of
   * a bucket, or, written before 0006, the last), and the room's rows reach at most into the
   * next bucket (persistMessages), so the newest row is in one of those two. Without rows, the
   * state's own values (a room with no message: 0 and its creation time).
   */
  async #roomState(roomId: string): Promise<RoomState> {
    const state = await this.#stateRow(roomId);
    const b = bucketOf(state.marked);
    const [here, next] = await Promise.all([
      this.#newestRow(roomId, b),
      this.#newestRow(roomId, b + 1),
    ]);
    const newest = next ?? here;
    return newest === undefined || num(newest, "seq") < state.marked
      ? { roomId, lastSeq: state.marked, lastActivity: state.lastActivity }
      : { roomId, lastSeq: num(newest, "seq"), lastActivity: date(newest, "created_at") };
  }

  async #stateRow(roomId: string): Promise<{ marked: number; lastActivity: Date }> {
    const row = await this.#one(
      `SELECT last_seq, last_activity FROM ${this.#ks}.room_state WHERE room_id = ?`,
      [roomId],
    );
    return row === undefined
      ? { marked: 0, lastActivity: new Date(0) }
      : { marked: num(row, "last_seq"), lastActivity: date(row, "last_activity") };
  }

  #newestRow(roomId: string, bucket: number): Promise<Row | undefined> {
    return this.#one(
      `SELECT seq, created_at FROM ${this.#ks}.messages WHERE room_id = ? AND bucket = ? LIMIT 1`,
      [roomId, bucket],
    );
  }

  /**
   * A room's rows reach at most the bucket after the one its state names (persistMessages),
   * and past it only while a write that crossed into the next bucket has not written its state
   * yet: then the bucket before is full to its last seq. So a page needs the state row and the
   * buckets it names, not the room's newest rows first: a page after a seq is two requests side
   * by side (the state and the first bucket), the latest page three in two round trips.
   */
  async history(roomId: string, query: HistoryQuery): Promise<StoredMessage[]> {
    checkLimit(query.limit);
    const hi = Math.min(query.before ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) - 1;
    return query.after === undefined
      ? (await this.#pageBefore(roomId, hi, query.limit)).messages
      : this.#pageAfter(roomId, Math.max(1, query.after + 1), hi, query.limit);
  }

  /** Rows of `bucket` from `lo` to `hi` in ascending (`asc`) or descending order, at most `n`. */
  #bucketRows(roomId: string, bucket: number, lo: number, hi: number, n: number, asc: boolean) {
    return this.#rows(
      `SELECT seq, ${MESSAGE_COLS} FROM ${this.#ks}.messages ` +
        "WHERE room_id = ? AND bucket = ? AND seq >= ? AND seq <= ? " +
        `ORDER BY seq ${asc ? "ASC" : "DESC"} LIMIT ?`,
      [roomId, bucket, lo, hi, n],
    );
  }

  async #pageAfter(roomId: string, lo: number, hi: number, limit: number) {
    const page: StoredMessage[] = [];
    if (lo > hi) return page;
    const read = (b: number) => this.#bucketRows(roomId, b, lo, hi, limit - page.length, true);
    const [state, firstRows] = await Promise.all([this.#stateRow(roomId), read(bucketOf(lo))]);
    const top = bucketOf(state.marked) + 1;
    for (let b = bucketOf(lo), rows = firstRows; ; b++, rows = await read(b)) {
      for (const row of rows) page.push(messageFromRow(roomId, row));
      const end = (b + 1) * BUCKET_SIZE - 1;
      if (page.length >= limit || end >= hi) return page;
      const last = rows.at(-1);
      const full = last !== undefined && num(last, "seq") === end;
      if (!full && b + 1 > top) return page;
    }
  }

  /**
   * The room's newest `limit` messages and its last seq, as #roomState reads it (the newest of
   * the rows the page found, or the state's seq where that is higher), in the page's requests.
   */
  async latest(
    roomId: string,
    limit: number,
  ): Promise<{ readonly lastSeq: number; readonly messages: StoredMessage[] }> {
    checkLimit(limit);
    const { messages, marked } = await this.#pageBefore(roomId, Number.MAX_SAFE_INTEGER - 1, limit);
    return { lastSeq: Math.max(marked, messages.at(-1)?.seq ?? 0), messages };
  }

  async #pageBefore(roomId: string, hi: number, limit: number) {
    if (hi < 1) return { messages: [], marked: 0 };
    const { marked } = await this.#stateRow(roomId);
    const top = bucketOf(marked) + 1;
    const start = Math.min(bucketOf(hi), top);
    const read = (b: number, n: number) => this.#bucketRows(roomId, b, 0, hi, n, false);
    // newest first
    const [first, second] = await Promise.all([
      read(start, limit),
      start > 0 ? read(start - 1, limit) : Promise.resolve([]),
    ]);
    const above: Row[] = [];
    for (let b = start, newest = first[0]; b < bucketOf(hi); b++) {
      if (newest === undefined || num(newest, "seq") !== (b + 1) * BUCKET_SIZE - 1) break;
      const rows = await read(b + 1, limit); // a write crossed into the next bucket: rare
      above.unshift(...rows);
      newest = rows[0];
    }
    const rows = [...above, ...first, ...second];
    for (let b = start - 2; b >= 0 && rows.length < limit; b--) {
      rows.push(...(await read(b, limit - rows.length)));
    }
    const messages = rows
      .slice(0, limit)
      .map((row) => messageFromRow(roomId, row))
      .reverse();
    return { messages, marked };
  }

  // ---- read positions ----

  async advanceReadPosition(p: ReadPosition): Promise<ReadPosition> {
    // timestamp = seq: the highest seq wins, without a read-before-write or an LWT
    await this.#write(
      `INSERT INTO ${this.#ks}.read_positions (room_id, user_id, seq, at) VALUES (?, ?, ?, ?) ` +
        "USING TIMESTAMP ?",
      [p.roomId, p.userId, p.seq, p.at, p.seq],
    );
    const held = await this.#readPosition(p.roomId, p.userId);
    if (held === undefined)
      throw new Error("advanceReadPosition: the position just written is missing");
    return held;
  }

  async #readPosition(roomId: string, userId: string): Promise<ReadPosition | undefined> {
    const row = await this.#one(
      `SELECT seq, at FROM ${this.#ks}.read_positions WHERE room_id = ? AND user_id = ?`,
      [roomId, userId],
    );
    return row === undefined ? undefined : positionFromRow(roomId, userId, row);
  }

  async readPositions(
    userId: string,
    roomIds: readonly string[],
  ): Promise<Map<string, ReadPosition>> {
    const found = new Map<string, ReadPosition>();
    await forEachLimited([...new Set(roomIds)], PARALLEL_READS, async (roomId) => {
      const p = await this.#readPosition(roomId, userId);
      if (p !== undefined) found.set(roomId, p);
    });
    return found;
  }

  async roomReadPositions(roomId: string): Promise<ReadPosition[]> {
    const rows = await this.#rows(
      `SELECT user_id, seq, at FROM ${this.#ks}.read_positions WHERE room_id = ?`,
      [roomId],
    );
    return rows.map((row) => positionFromRow(roomId, text(row, "user_id"), row));
  }

  /** One read of the coordinator's system.local, bounded by a 2 s read timeout. */
  async ping(): Promise<void> {
    await this.#client.execute("SELECT release_version FROM system.local", [], {
      readTimeout: 2_000,
      isIdempotent: true,
    });
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.shutdown();
  }

  // ---- queries ----

  #options(extra: QueryOptions = {}): QueryOptions {
    return {
      prepare: true,
      consistency: types.consistencies.localQuorum,
      readTimeout: this.#timeoutMs,
      isIdempotent: true,
      ...extra,
    };
  }

  #write(query: string, params: Params): Promise<types.ResultSet> {
    return this.#client.execute(query, [...params], this.#options());
  }

  #lwt(query: string, params: Params): Promise<types.ResultSet> {
    return this.#client.execute(
      query,
      [...params],
      this.#options({
        serialConsistency: types.consistencies.localSerial,
        readTimeout: this.#lwtTimeoutMs,
        isIdempotent: false,
      }),
    );
  }

  #batch(queries: { query: string; params: Params }[], logged: boolean): Promise<types.ResultSet> {
    return this.#client.batch(
      queries.map((q) => ({ query: q.query, params: [...q.params] })),
      this.#options({ logged }),
    );
  }

  async #one(query: string, params: Params): Promise<Row | undefined> {
    const rs = await this.#client.execute(query, [...params], this.#options());
    return rs.first() ?? undefined;
  }

  /** Every row, page by page (at most `max`); each page is one query with its own timeout. */
  async #rows(query: string, params: Params, max = Number.POSITIVE_INFINITY): Promise<Row[]> {
    const rows: Row[] = [];
    let pageState: string | undefined;
    do {
      const rs = await this.#client.execute(
        query,
        [...params],
        this.#options({
          fetchSize: Math.min(PAGE_SIZE, max - rows.length),
          ...(pageState === undefined ? {} : { pageState }),
        }),
      );
      rows.push(...rs.rows);
      pageState = rs.pageState ?? undefined;
    } while (pageState !== undefined && rows.length < max);
    return rows.slice(0, max);
  }
}

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first failure. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---- rows → domain values ----

function text(row: Row, column: string): string {
  const v: unknown = row.get(column);
  if (typeof v !== "string") throw new TypeError(`column ${column} is ${String(v)}, not text`);
  return v;
}

function optText(row: Row, column: string): string | undefined {
  const v: unknown = row.get(column);
  return typeof v === "string" ? v : undefined;
}

function date(row: Row, column: string): Date {
  const v: unknown = row.get(column);
  if (!(v instanceof Date))
    throw new TypeError(`column ${column} is ${String(v)}, not a timestamp`);
  return v;
}

function optNum(row: Row, column: string): number | undefined {
  const v: unknown = row.get(column);
  if (v instanceof types.Long) return v.toNumber();
  return typeof v === "number" ? v : undefined;
}

function num(row: Row, column: string): number {
  const v = optNum(row, column);
  if (v === undefined) throw new TypeError(`column ${column} is not a number`);
  return v;
}

function userFromRow(id: string, row: Row): User {
  const email = optText(row, "email");
  return {
    id,
    username: text(row, "username"),
    displayName: text(row, "display_name"),
    passwordHash: text(row, "password_hash"),
    createdAt: date(row, "created_at"),
    ...(email === undefined ? {} : { email }),
    // null on every row written before 0005: unverified, the safe reading
    ...(email !== undefined && row.get("email_verified") === true ? { emailVerified: true } : {}),
  };
}

function memberFromRow(roomId: string, userId: string, row: Row): Member {
  return {
    roomId,
    userId,
    role: text(row, "role") as MemberRole,
    joinedAt: date(row, "joined_at"),
  };
}

function positionFromRow(roomId: string, userId: string, row: Row): ReadPosition {
  return { roomId, userId, seq: num(row, "seq"), at: date(row, "at") };
}

/**
 * An uploaded object's key is stored in content_url behind this scheme (a message has a key or
 * an external url, never both), so uploads needed no schema migration (docs/decisions/0021).
 */
const OBJECT_URL_SCHEME = "object:";

function messageFromRow(roomId: string, row: Row): StoredMessage {
  const textValue = optText(row, "content_text");
  const stored = optText(row, "content_url");
  const key = stored?.startsWith(OBJECT_URL_SCHEME)
    ? stored.slice(OBJECT_URL_SCHEME.length)
    : undefined;
  const url = key === undefined ? stored : undefined;
  const name = optText(row, "content_name");
  const size = optNum(row, "content_size");
  const mime = optText(row, "content_mime");
  const replyTo = optNum(row, "reply_to");
  const content: MessageContent = {
    ...(textValue === undefined ? {} : { text: textValue }),
    ...(key === undefined ? {} : { key }),
    ...(url === undefined ? {} : { url }),
    ...(name === undefined ? {} : { name }),
    ...(size === undefined ? {} : { size }),
    ...(mime === undefined ? {} : { mime }),
  };
  return {
    roomId,
    seq: num(row, "seq"),
    id: text(row, "id"),
    senderId: text(row, "sender_id"),
    clientMsgId: text(row, "client_msg_id"),
    msgType: text(row, "msg_type") as MsgType,
    content,
    createdAt: date(row, "created_at"),
    ...(replyTo === undefined ? {} : { replyTo }),
  };
}
