// What a user can do with their notifications (recorded by the notifier, docs/decisions/0022):
// list them, mark them read, count the unread ones (the welcome frame carries the count), and
// mute rooms so that they give none.

import {
  decodeCursor,
  type ListedNotification,
  type NotificationPage,
  type NotificationPosition,
} from "../../shared/backends/notifications.ts";
import { ChatError } from "../../shared/errors.ts";
import { announceUnreadChanged } from "../../shared/unread.ts";
import type { GatewayContext } from "./context.ts";
import type { Rooms } from "./rooms.ts";

/** How long a socket's welcome waits for the unread count before going without it. */
export const UNREAD_COUNT_TIMEOUT_MS = 1_000;

/** The greatest message id: a position at `at` after every notification of that instant. */
const LAST_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff";

export class Notifications {
  readonly #ctx: GatewayContext;
  readonly #rooms: Rooms;

  constructor(ctx: GatewayContext, rooms: Rooms) {
    this.#ctx = ctx;
    this.#rooms = rooms;
  }

  /** A page of the user's notifications, newest first, older than the cursor `before`. */
  async list(
    userId: string,
    query: { readonly before?: string; readonly limit: number },
  ): Promise<NotificationPage> {
    const before = query.before === undefined ? undefined : position(query.before);
    return this.#ctx.notifications.list(userId, {
      limit: query.limit,
      ...(before === undefined ? {} : { before }),
    });
  }

  async unread(userId: string): Promise<number> {
    return this.#ctx.notifications.unreadCount(userId);
  }

  /** The unread count for a welcome frame; undefined when it cannot be read in time. */
  async unreadForWelcome(userId: string): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.unread(userId),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), UNREAD_COUNT_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.#ctx.log.warn({ err }, "cannot count unread notifications: welcome goes without");
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Marks the user's notification of the message read. */
  async markRead(userId: string, messageId: string): Promise<ListedNotification> {
    if (!(await this.#ctx.notifications.markRead(userId, messageId))) {
      throw new ChatError("NOTIFICATION_NOT_FOUND", "you have no notification of this message");
    }
    const n = await this.#ctx.notifications.get(userId, messageId);
    if (n === undefined) {
      throw new ChatError("NOTIFICATION_NOT_FOUND", "you have no notification of this message");
    }
    await this.#announce(userId);
    return n;
  }

  /** Marks every notification up to the cursor `upTo` read (all of them without one). */
  async markAllRead(userId: string, upTo: string | undefined, now = new Date()): Promise<void> {
    const p = upTo === undefined ? { at: now, messageId: LAST_ID } : position(upTo);
    await this.#ctx.notifications.markReadUpTo(userId, p);
    await this.#announce(userId);
  }

  /** Tells the user's open sockets (here and elsewhere) that their unread count changed. */
  async #announce(userId: string): Promise<void> {
    try {
      await announceUnreadChanged(this.#ctx, [userId]);
    } catch (err) {
      // the sockets read it again at their next welcome; the request itself succeeded
      this.#ctx.log.warn({ err }, "cannot tell the user's sockets their unread count changed");
    }
  }

  /** Mutes a room of the user's: its messages give them no notifications. */
  async mute(userId: string, roomId: string): Promise<void> {
    await this.#rooms.requireMember(userId, roomId);
    await this.#ctx.notifications.mute(userId, roomId);
  }

  async unmute(userId: string, roomId: string): Promise<void> {
    await this.#ctx.notifications.unmute(userId, roomId);
  }

  async muted(userId: string): Promise<string[]> {
    return this.#ctx.notifications.mutedRooms(userId);
  }
}

function position(cursor: string): NotificationPosition {
  const p = decodeCursor(cursor);
  if (p === undefined) throw new ChatError("BAD_REQUEST", "not a notification cursor");
  return p;
}
