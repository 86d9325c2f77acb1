// NotificationStore in memory: the embedded default and unit tests. Same semantics as
// notifications.cassandra.ts, proven by notifications.contract.ts. Nothing expires here.
import {
  compareNewestFirst,
  type ListedNotification,
  MAX_UNREAD_COUNT,
  type Notification,
  type NotificationPage,
  type NotificationPosition,
  type NotificationStore,
} from "./notifications.ts";

interface Row {
  readonly n: Notification;
  read: boolean;
}

interface UserData {
  /** newest first */
  readonly rows: Row[];
  readonly byMessage: Map<string, Row>;
  /** everything at or before this is read */
  readUpTo: NotificationPosition | undefined;
}

const copy = (n: Notification): Notification => ({ ...n, at: new Date(n.at) });

export class MemoryNotificationStore implements NotificationStore {
  readonly #users = new Map<string, UserData>();
  /** user id → muted room ids */
  readonly #mutes = new Map<string, Set<string>>();

  async record(notifications: readonly Notification[]): Promise<void> {
    for (const n of notifications) {
      const u = this.#user(n.userId);
      if (u.byMessage.has(n.messageId)) continue;
      const row: Row = { n: copy(n), read: false };
      u.byMessage.set(n.messageId, row);
      const i = u.rows.findIndex((r) => compareNewestFirst(n, r.n) < 0);
      u.rows.splice(i === -1 ? u.rows.length : i, 0, row);
    }
  }

  async list(
    userId: string,
    query: { readonly before?: NotificationPosition; readonly limit: number },
  ): Promise<NotificationPage> {
    const u = this.#users.get(userId);
    if (u === undefined) return { items: [] };
    const { before } = query;
    const older =
      before === undefined ? u.rows : u.rows.filter((r) => compareNewestFirst(r.n, before) > 0);
    const page = older.slice(0, query.limit);
    const items = page.map((r) => this.#listed(u, r));
    const last = page.at(-1);
    return older.length > query.limit && last !== undefined
      ? { items, next: { at: new Date(last.n.at), messageId: last.n.messageId } }
      : { items };
  }

  async get(userId: string, messageId: string): Promise<ListedNotification | undefined> {
    const u = this.#users.get(userId);
    const row = u?.byMessage.get(messageId);
    return u === undefined || row === undefined ? undefined : this.#listed(u, row);
  }

  async markRead(userId: string, messageId: string): Promise<boolean> {
    const row = this.#users.get(userId)?.byMessage.get(messageId);
    if (row === undefined) return false;
    row.read = true;
    return true;
  }

  async markReadUpTo(userId: string, upTo: NotificationPosition): Promise<void> {
    const u = this.#user(userId);
    if (u.readUpTo === undefined || compareNewestFirst(upTo, u.readUpTo) < 0) {
      u.readUpTo = { at: new Date(upTo.at), messageId: upTo.messageId };
    }
  }

  async unreadCount(userId: string): Promise<number> {
    const u = this.#users.get(userId);
    if (u === undefined) return 0;
    let count = 0;
    for (const r of u.rows) {
      if (!this.#listed(u, r).read) count++;
      if (count === MAX_UNREAD_COUNT) break;
    }
    return count;
  }

  async mute(userId: string, roomId: string): Promise<void> {
    let rooms = this.#mutes.get(userId);
    if (rooms === undefined) {
      rooms = new Set();
      this.#mutes.set(userId, rooms);
    }
    rooms.add(roomId);
  }

  async unmute(userId: string, roomId: string): Promise<void> {
    this.#mutes.get(userId)?.delete(roomId);
  }

  async mutedRooms(userId: string): Promise<string[]> {
    return [...(this.#mutes.get(userId) ?? [])].sort();
  }

  async mutedBy(roomId: string, userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((u) => this.#mutes.get(u)?.has(roomId) === true));
  }

  async close(): Promise<void> {}

  #user(userId: string): UserData {
    let u = this.#users.get(userId);
    if (u === undefined) {
      u = { rows: [], byMessage: new Map(), readUpTo: undefined };
      this.#users.set(userId, u);
    }
    return u;
  }

  #listed(u: UserData, r: Row): ListedNotification {
    const upTo = u.readUpTo;
    const read = r.read || (upTo !== undefined && compareNewestFirst(r.n, upTo) >= 0);
    return { ...copy(r.n), read };
  }
}
