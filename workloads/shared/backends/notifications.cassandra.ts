// NotificationStore on Cassandra: the tables of migrations/0002_notifications.cql. Prepared
// statements, LOCAL_QUORUM, a timeout on every query, no lightweight transactions: one user's
// notifications are written by the one notifier that owns the room's partition, and a repeat
// (a replay after a crash) is found by one point read of notification_ids. Same semantics as
// notifications.memory.ts, proven by notifications.contract.ts.
import { type Client, type QueryOptions, types } from "cassandra-driver";
import { validateKeyspace } from "#contract/schema/migrate";
import {
  type ListedNotification,
  MAX_UNREAD_COUNT,
  NOTIFICATION_TTL_SECONDS,
  type Notification,
  type NotificationKind,
  type NotificationPage,
  type NotificationPosition,
  type NotificationStore,
} from "./notifications.ts";

type Row = types.Row;
type Params = readonly unknown[];

/** Rows the unread count reads at most (read ones among them included). */
const MAX_COUNT_SCAN = 5_000;
const PAGE_SIZE = 500;

const COLS = "at, message_id, room_id, sender_id, kind, excerpt, read";

export interface CassandraNotificationOptions {
  /** per-query timeout; default 5 000 ms */
  readonly timeoutMs?: number;
}

export class CassandraNotificationStore implements NotificationStore {
  readonly #client: Client;
  readonly #ks: string;
  readonly #timeoutMs: number;

  /** `client` must be connected (the caller shuts it down); tables are qualified with `keyspace`. */
  constructor(client: Client, keyspace: string, options: CassandraNotificationOptions = {}) {
    const ks = validateKeyspace(keyspace);
    if (!ks.ok) throw new RangeError(ks.error.message);
    this.#client = client;
    this.#ks = ks.value;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  async record(notifications: readonly Notification[]): Promise<void> {
    await Promise.all(notifications.map((n) => this.#recordOne(n)));
  }

  async #recordOne(n: Notification): Promise<void> {
    const known = await this.#one(
      `SELECT at FROM ${this.#ks}.notification_ids WHERE user_id = ? AND message_id = ?`,
      [n.userId, n.messageId],
    );
    if (known !== undefined) return;
    // the row first, its id after: a crash in between repeats the row (the same key when the
    // replayed event is the same), never leaves an id without its row. `read` is not written, so
    // a repeat never makes a read notification unread.
    await this.#run(
      `INSERT INTO ${this.#ks}.notifications ` +
        "(user_id, at, message_id, room_id, sender_id, kind, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?) " +
        "USING TTL ?",
      [
        n.userId,
        n.at,
        n.messageId,
        n.roomId,
        n.senderId,
        n.kind,
        n.excerpt,
        NOTIFICATION_TTL_SECONDS,
      ],
    );
    await this.#run(
      `INSERT INTO ${this.#ks}.notification_ids (user_id, message_id, at) VALUES (?, ?, ?) ` +
        "USING TTL ?",
      [n.userId, n.messageId, n.at, NOTIFICATION_TTL_SECONDS],
    );
  }

  async list(
    userId: string,
    query: { readonly before?: NotificationPosition; readonly limit: number },
  ): Promise<NotificationPage> {
    const { before, limit } = query;
    const where =
      before === undefined ? "user_id = ?" : "user_id = ? AND (at, message_id) < (?, ?)";
    const params = before === undefined ? [userId] : [userId, before.at, before.messageId];
    const [rows, mark] = await Promise.all([
      this.#client.execute(
        `SELECT ${COLS} FROM ${this.#ks}.notifications WHERE ${where} LIMIT ?`,
        [...params, limit + 1],
        this.#options(),
      ),
      this.#mark(userId),
    ]);
    const page = rows.rows.slice(0, limit);
    const items = page.map((r) => listed(userId, r, mark));
    const last = items.at(-1);
    return rows.rows.length > limit && last !== undefined
      ? { items, next: { at: last.at, messageId: last.messageId } }
      : { items };
  }

  async get(userId: string, messageId: string): Promise<ListedNotification | undefined> {
    const id = await this.#id(userId, messageId);
    if (id === undefined) return undefined;
    const [row, mark] = await Promise.all([
      this.#one(
        `SELECT ${COLS} FROM ${this.#ks}.notifications WHERE user_id = ? AND at = ? AND message_id = ?`,
        [userId, id.at, messageId],
      ),
      this.#mark(userId),
    ]);
    return row === undefined || row.get("kind") === null ? undefined : listed(userId, row, mark);
  }

  async markRead(userId: string, messageId: string): Promise<boolean> {
    const id = await this.#id(userId, messageId);
    if (id === undefined) return false;
    // the flag expires with its row
    await this.#run(
      `UPDATE ${this.#ks}.notifications USING TTL ? SET read = true ` +
        "WHERE user_id = ? AND at = ? AND message_id = ?",
      [id.ttl, userId, id.at, messageId],
    );
    return true;
  }

  async markReadUpTo(userId: string, upTo: NotificationPosition): Promise<void> {
    const held = await this.#mark(userId);
    if (held !== undefined && !newer(upTo, held)) return;
    await this.#run(
      `INSERT INTO ${this.#ks}.notification_marks (user_id, read_up_to_at, read_up_to_id) ` +
        "VALUES (?, ?, ?)",
      [userId, upTo.at, upTo.messageId],
    );
  }

  async unreadCount(userId: string): Promise<number> {
    const mark = await this.#mark(userId);
    const where = mark === undefined ? "user_id = ?" : "user_id = ? AND (at, message_id) > (?, ?)";
    const params = mark === undefined ? [userId] : [userId, mark.at, mark.messageId];
    let count = 0;
    let scanned = 0;
    let pageState: string | undefined;
    do {
      const rs = await this.#client.execute(
        `SELECT read FROM ${this.#ks}.notifications WHERE ${where}`,
        params,
        this.#options({
          fetchSize: PAGE_SIZE,
          ...(pageState === undefined ? {} : { pageState }),
        }),
      );
      for (const r of rs.rows) if (r.get("read") !== true) count++;
      scanned += rs.rows.length;
      pageState = rs.pageState ?? undefined;
    } while (pageState !== undefined && count < MAX_UNREAD_COUNT && scanned < MAX_COUNT_SCAN);
    return Math.min(count, MAX_UNREAD_COUNT);
  }

  async mute(userId: string, roomId: string): Promise<void> {
    await this.#run(
      `INSERT INTO ${this.#ks}.room_mutes (user_id, room_id, muted_at) VALUES (?, ?, ?)`,
      [userId, roomId, new Date()],
    );
  }

  async unmute(userId: string, roomId: string): Promise<void> {
    await this.#run(`DELETE FROM ${this.#ks}.room_mutes WHERE user_id = ? AND room_id = ?`, [
      userId,
      roomId,
    ]);
  }

  async mutedRooms(userId: string): Promise<string[]> {
    const rs = await this.#client.execute(
      `SELECT room_id FROM ${this.#ks}.room_mutes WHERE user_id = ?`,
      [userId],
      this.#options({ fetchSize: PAGE_SIZE }),
    );
    return rs.rows.map((r) => r.get("room_id") as string);
  }

  async mutedBy(roomId: string, userIds: readonly string[]): Promise<Set<string>> {
    const found = await Promise.all(
      userIds.map(async (u) =>
        (await this.#one(
          `SELECT room_id FROM ${this.#ks}.room_mutes WHERE user_id = ? AND room_id = ?`,
          [u, roomId],
        )) === undefined
          ? undefined
          : u,
      ),
    );
    return new Set(found.filter((u) => u !== undefined));
  }

  async close(): Promise<void> {}

  async #id(userId: string, messageId: string): Promise<{ at: Date; ttl: number } | undefined> {
    const row = await this.#one(
      `SELECT at, TTL(at) AS ttl FROM ${this.#ks}.notification_ids WHERE user_id = ? AND message_id = ?`,
      [userId, messageId],
    );
    if (row === undefined) return undefined;
    const ttl = row.get("ttl");
    return {
      at: row.get("at") as Date,
      ttl: typeof ttl === "number" && ttl > 0 ? ttl : NOTIFICATION_TTL_SECONDS,
    };
  }

  async #mark(userId: string): Promise<NotificationPosition | undefined> {
    const row = await this.#one(
      `SELECT read_up_to_at, read_up_to_id FROM ${this.#ks}.notification_marks WHERE user_id = ?`,
      [userId],
    );
    if (row === undefined) return undefined;
    return { at: row.get("read_up_to_at") as Date, messageId: row.get("read_up_to_id") as string };
  }

  #options(extra: QueryOptions = {}): QueryOptions {
    return {
      prepare: true,
      consistency: types.consistencies.localQuorum,
      readTimeout: this.#timeoutMs,
      isIdempotent: true,
      ...extra,
    };
  }

  #run(query: string, params: Params): Promise<types.ResultSet> {
    return this.#client.execute(query, [...params], this.#options());
  }

  async #one(query: string, params: Params): Promise<Row | undefined> {
    const rs = await this.#client.execute(query, [...params], this.#options());
    return rs.first() ?? undefined;
  }
}

/** Is `a` newer than `b` (later in time, or the same time and a greater id)? */
function newer(a: NotificationPosition, b: NotificationPosition): boolean {
  const d = a.at.getTime() - b.at.getTime();
  return d > 0 || (d === 0 && a.messageId > b.messageId);
}

function listed(
  userId: string,
  row: Row,
  mark: NotificationPosition | undefined,
): ListedNotification {
  const at = row.get("at") as Date;
  const messageId = row.get("message_id") as string;
  const position = { at, messageId };
  return {
    userId,
    messageId,
    roomId: row.get("room_id") as string,
    senderId: row.get("sender_id") as string,
    kind: row.get("kind") as NotificationKind,
    excerpt: (row.get("excerpt") as string | null) ?? "",
    at,
    read: row.get("read") === true || (mark !== undefined && !newer(position, mark)),
  };
}
