// The notifications bell (with the unread count) in the header, the panel it opens (what you
// missed while offline: direct messages, mentions and replies to mine, newest first), and a
// room's mute toggle.
import type { NotificationsModel } from "./notifications.ts";
import type { ChatState } from "./state.ts";

const KIND_LABELS = {
  direct: "Message from",
  mention: "Mention by",
  reply: "Reply by",
} as const;

const shown = (n: number) => (n > 998 ? "999+" : String(n));

export function NotificationBell({ state }: { state: ChatState }) {
  const model = state.notifications;
  if (model === undefined) return null;
  const label = `Notifications${model.unread > 0 ? `, ${shown(model.unread)} unread` : ""}`;
  return (
    <button
      type="button"
      class="bell link"
      aria-label={label}
      aria-expanded={model.open}
      aria-controls="notifications"
      onClick={() => state.attempt("Loading notifications", () => model.toggle())}
    >
      <svg class="bell-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
        />
      </svg>
      <span class="bell-text">Notifications</span>
      {model.unread > 0 && (
        <span class="badge" aria-hidden="true">
          {shown(model.unread)}
        </span>
      )}
    </button>
  );
}

export function NotificationPanel({ state }: { state: ChatState }) {
  const model = state.notifications;
  if (model === undefined || !model.open) return null;
  return (
    <section id="notifications" class="notifications" aria-label="Notifications">
      <header>
        <h2>While you were away</h2>
        <button
          type="button"
          class="link"
          disabled={model.unread === 0}
          onClick={() => state.attempt("Marking notifications read", () => model.markAllRead())}
        >
          Mark all read
        </button>
      </header>
      {model.loading && model.items.length === 0 && <p class="hint">Loading…</p>}
      {!model.loading && model.items.length === 0 && <p class="hint">Nothing missed.</p>}
      <ul>
        {model.items.map((n) => (
          <li key={n.id}>
            <button
              type="button"
              class={`notification ${n.read ? "read" : "unread"}`}
              onClick={() => open(state, model, n.id, n.room_id)}
            >
              <span class="what">
                {KIND_LABELS[n.kind]} {state.name(n.sender_id)}
                {n.kind !== "direct" && ` in ${roomTitle(state, n.room_id)}`}
              </span>
              <span class="excerpt">{n.excerpt}</span>
              <time dateTime={n.created_at}>{new Date(n.created_at).toLocaleString()}</time>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Opens the notification's room, marks it read and closes the panel. */
function open(state: ChatState, model: NotificationsModel, id: string, roomId: string): void {
  state.attempt("Marking the notification read", () => model.markRead(id));
  model.open = false;
  state.open(roomId);
}

function roomTitle(state: ChatState, roomId: string): string {
  const r = state.rooms.get(roomId);
  return r === undefined ? "a room" : state.title(r);
}

/** Mute or unmute the room: a muted room gives no notifications. */
export function MuteToggle({ state, roomId }: { state: ChatState; roomId: string }) {
  const model = state.notifications;
  if (model === undefined) return null;
  const muted = model.muted.has(roomId);
  return (
    <button
      type="button"
      class="link mute"
      aria-pressed={muted}
      title={
        muted ? "You get no notifications from this room" : "Stop notifications from this room"
      }
      onClick={() =>
        state.attempt(muted ? "Unmuting" : "Muting", () => model.setMuted(roomId, !muted))
      }
    >
      {muted ? "Unmute" : "Mute"}
    </button>
  );
}
