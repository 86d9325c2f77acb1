// What the page knows of the user's notifications (docs/decisions/0022): the unread count (from
// welcome, then from each list or mark), the newest page when the panel is open, and the rooms
// the user muted. Changes go through `changed`, as ChatState's do.
import type { Notification, Session } from "../../client/src/index.ts";

/** Notifications shown in the panel (the newest page). */
const PAGE = 30;

export class NotificationsModel {
  unread = 0;
  items: Notification[] = [];
  open = false;
  loading = false;
  muted = new Set<string>();
  readonly #session: Session;
  readonly #changed: () => void;
  /** notifications frames heard: a count pushed during a request is newer than its answer */
  #pushes = 0;

  constructor(session: Session, changed: () => void) {
    this.#session = session;
    this.#changed = changed;
  }

  /** The count a welcome frame carries (absent: the gateway could not count in time). */
  welcomed(unread: number | undefined): void {
    if (unread === undefined) return;
    this.unread = unread;
    this.#changed();
  }

  /**
   * The count a notifications frame brings: it changed while connected (marked read on another
   * device or here, or new). The open panel's list is read again, so it shows what it says.
   */
  pushed(unread: number): void {
    this.#pushes++;
    const changed = unread !== this.unread;
    this.unread = unread;
    this.#changed();
    if (changed && this.open && !this.loading) void this.reload().catch(() => {});
  }

  async loadMutes(): Promise<void> {
    this.muted = new Set((await this.#session.mutedRooms()).room_ids);
    this.#changed();
  }

  async toggle(): Promise<void> {
    this.open = !this.open;
    this.#changed();
    if (this.open) await this.reload();
  }

  async reload(): Promise<void> {
    this.loading = true;
    this.#changed();
    try {
      const page = await this.#session.notifications({ limit: PAGE });
      this.items = page.notifications;
      this.unread = page.unread;
    } finally {
      this.loading = false;
      this.#changed();
    }
  }

  async markRead(id: string): Promise<void> {
    const n = this.items.find((i) => i.id === id);
    if (n === undefined || n.read) return;
    const pushes = this.#pushes;
    await this.#session.markNotificationRead(id);
    this.items = this.items.map((i) => (i.id === id ? { ...i, read: true } : i));
    // the gateway pushes the new count too: if it came first, it already counts this one
    if (this.#pushes === pushes) this.unread = Math.max(0, this.unread - 1);
    this.#changed();
  }

  async markAllRead(): Promise<void> {
    const { unread } = await this.#session.markNotificationsRead();
    this.items = this.items.map((i) => ({ ...i, read: true }));
    this.unread = unread;
    this.#changed();
  }

  async setMuted(roomId: string, muted: boolean): Promise<void> {
    if (muted) await this.#session.mute(roomId);
    else await this.#session.unmute(roomId);
    if (muted) this.muted.add(roomId);
    else this.muted.delete(roomId);
    this.#changed();
  }
}
