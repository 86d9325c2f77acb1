// Notifications: what a member missed while offline (a direct message, a mention, a reply to one
// of their messages), recorded by the notifier (workloads/notifier) and read by the gateway's REST
// routes; and the rooms each user muted, which produce none. Cassandra in production (notifications.cassandra.ts), memory for the
// embedded default and unit tests (notifications.memory.ts); both pass notifications.contract.ts.
// Decision record: docs/decisions/0022-notifications.md.

export type NotificationKind = "direct" | "mention" | "reply";
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ["direct", "mention", "reply"];

/** One notification of one user; a user has at most one per message (its id is the message's). */
export interface Notification {
  readonly userId: string;
  readonly messageId: string;
  readonly roomId: string;
  readonly senderId: string;
  readonly kind: NotificationKind;
  /** the start of the message's text (at most EXCERPT_CHARS code points) */
  readonly excerpt: string;
  /** when the message was sent: notifications list newest first by it */
  readonly at: Date;
}

export interface ListedNotification extends Notification {
  readonly read: boolean;
}

/** Where a page ends: the (at, message id) of its last notification. */
export interface NotificationPosition {
  readonly at: Date;
  readonly messageId: string;
}

export interface NotificationPage {
  /** newest first */
  readonly items: ListedNotification[];
  /** pass as `before` for the next (older) page; absent on the last page */
  readonly next?: NotificationPosition;
}

/** Characters of a message's text kept in its notification. */
export const EXCERPT_CHARS = 140;
/** The unread count stops at this (clients show "999+"): counting reads that many rows at most. */
export const MAX_UNREAD_COUNT = 999;
/** Notifications expire this long after they were recorded (and so does their de-duplication). */
export const NOTIFICATION_TTL_SECONDS = 30 * 24 * 3600;
/** Most notifications one list call returns. */
export const MAX_NOTIFICATIONS_PAGE = 100;

export interface NotificationStore {
  /**
   * Records each notification unless the user already has one for that message (whatever its
   * other fields): recording the same notifications again, or another event of the same message,
   * changes nothing — a read one stays read.
   */
  record(notifications: readonly Notification[]): Promise<void>;
  /** The user's notifications, newest first: `limit` (1..MAX_NOTIFICATIONS_PAGE) older than `before`. */
  list(
    userId: string,
    query: { readonly before?: NotificationPosition; readonly limit: number },
  ): Promise<NotificationPage>;
  /** The user's notification of this message, if any. */
  get(userId: string, messageId: string): Promise<ListedNotification | undefined>;
  /** Marks the user's notification of this message read; resolves false when there is none. */
  markRead(userId: string, messageId: string): Promise<boolean>;
  /** Marks every notification of the user at or before `upTo` read (later ones stay unread). */
  markReadUpTo(userId: string, upTo: NotificationPosition): Promise<void>;
  /** Unread notifications of the user, at most MAX_UNREAD_COUNT. */
  unreadCount(userId: string): Promise<number>;

  /** Mutes the room for the user (again: no change). */
  mute(userId: string, roomId: string): Promise<void>;
  /** Unmutes the room for the user (not muted: no change). */
  unmute(userId: string, roomId: string): Promise<void>;
  /** The rooms the user muted. */
  mutedRooms(userId: string): Promise<string[]>;
  /** Those of `userIds` who muted the room. */
  mutedBy(roomId: string, userIds: readonly string[]): Promise<Set<string>>;

  close(): Promise<void>;
}

/** Orders positions newest first: negative when `a` is newer than `b`. */
export function compareNewestFirst(a: NotificationPosition, b: NotificationPosition): number {
  const byTime = b.at.getTime() - a.at.getTime();
  if (byTime !== 0) return byTime;
  return a.messageId < b.messageId ? 1 : a.messageId > b.messageId ? -1 : 0;
}

const CURSOR = /^(\d{1,15})_([0-9a-f-]{36})$/;

/** A page's position as the opaque cursor REST hands out. */
export const encodeCursor = (p: NotificationPosition): string => `${p.at.getTime()}_${p.messageId}`;

/** The position of a cursor from encodeCursor; undefined for anything else. */
export function decodeCursor(cursor: string): NotificationPosition | undefined {
  const m = CURSOR.exec(cursor);
  if (m === null) return undefined;
  const at = new Date(Number(m[1]));
  if (Number.isNaN(at.getTime())) return undefined;
  return { at, messageId: m[2] as string };
}

/** The first EXCERPT_CHARS code points of a text. */
export function excerptOf(text: string | undefined): string {
  if (text === undefined) return "";
  const chars = Array.from(text);
  return chars.length <= EXCERPT_CHARS ? text : `${chars.slice(0, EXCERPT_CHARS).join("")}…`;
}
