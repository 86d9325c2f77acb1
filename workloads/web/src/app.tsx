// The page: sign-in, then the room list beside the open room (one at a time below 700 px).
import { useEffect, useState } from "preact/hooks";
import { ChatView } from "./chat.tsx";
import { NotificationBell, NotificationPanel } from "./notifications.tsx";
import { NewRoom, Stranger } from "./panels.tsx";
import type { ChatState, RoomView } from "./state.ts";

/** Re-renders the component whenever the state changes. */
export function useChatState(state: ChatState): void {
  const [, setVersion] = useState(state.version);
  useEffect(() => {
    const unsubscribe = state.subscribe(() => setVersion(state.version));
    // an effect runs up to a frame after the render: what changed in between (the session
    // restored at load, whether single sign-on is on) would otherwise never be shown
    setVersion(state.version);
    return unsubscribe;
  }, [state]);
}

export function App({ state }: { state: ChatState }) {
  useChatState(state);
  if (state.session === undefined) return <SignIn state={state} />;
  const active = state.active;
  return (
    <div class={`shell ${active === undefined ? "show-list" : "show-chat"}`}>
      <header class="top">
        <h1>Switchboard</h1>
        <Connection state={state} />
        <NotificationBell state={state} />
        <span class="me" title={`Your user id: ${state.me}`}>
          {state.session.user.display_name}
        </span>
        <button type="button" class="link" onClick={() => void state.signOut()}>
          Sign out
        </button>
      </header>
      <NotificationPanel state={state} />
      {state.notice !== undefined && (
        <p class="notice" role="alert">
          {state.notice}
          <button
            type="button"
            class="link"
            onClick={() => {
              state.notice = undefined;
              state.changed();
            }}
          >
            Dismiss
          </button>
        </p>
      )}
      {state.notice === undefined && state.info !== undefined && (
        <p class="notice info" role="status">
          {state.info}
          <button
            type="button"
            class="link"
            onClick={() => {
              state.info = undefined;
              state.changed();
            }}
          >
            Dismiss
          </button>
        </p>
      )}
      <nav class="rooms" aria-label="Rooms">
        <Stranger state={state} />
        <NewRoom state={state} />
        <RoomList state={state} />
        <p class="hint">
          Your user id (give it to people who want to add you):{" "}
          <code class="user-id">{state.me}</code>
        </p>
        {state.signOnProvider !== undefined && (
          <p class="hint">
            <button
              type="button"
              class="link"
              onClick={() => state.attempt("Linking", () => state.linkProvider())}
            >
              Link your {state.signOnProvider} account
            </button>{" "}
            to sign in to this account with it.
          </p>
        )}
      </nav>
      <main class="chat">
        {active === undefined ? (
          <p class="empty">Pick a room, or talk to a stranger.</p>
        ) : (
          <ChatView key={active.room.id} state={state} room={active} />
        )}
      </main>
    </div>
  );
}

function Connection({ state }: { state: ChatState }) {
  const { state: s, text } = state.connectionLabel();
  return (
    <output class={`conn conn-${s}`} aria-live="polite" data-state={s}>
      <span class="dot" aria-hidden="true" />
      {text}
    </output>
  );
}

function RoomList({ state }: { state: ChatState }) {
  const rooms = [...state.rooms.values()].sort((a, b) =>
    (b.last?.createdAt ?? b.room.created_at).localeCompare(a.last?.createdAt ?? a.room.created_at),
  );
  if (rooms.length === 0) return <p class="hint">No rooms yet.</p>;
  return (
    <ul class="room-list">
      {rooms.map((r) => (
        <RoomItem key={r.room.id} state={state} room={r} />
      ))}
    </ul>
  );
}

function RoomItem({ state, room }: { state: ChatState; room: RoomView }) {
  const online = state.peerOnline(room);
  const title = state.title(room);
  const unread = state.activeId === room.room.id ? 0 : room.unread;
  return (
    <li>
      <button
        type="button"
        class={`room ${state.activeId === room.room.id ? "current" : ""}`}
        aria-current={state.activeId === room.room.id ? "true" : undefined}
        onClick={() => state.open(room.room.id)}
        aria-label={`${title}, ${room.room.kind}${unread > 0 ? `, ${unread} unread` : ""}${online === undefined ? "" : online ? ", online" : ", offline"}`}
      >
        <span
          class={`presence ${online === undefined ? "none" : online ? "on" : "off"}`}
          aria-hidden="true"
        />
        <span class="room-main">
          <span class="room-title">{title}</span>
          <span class="room-last">{room.last === undefined ? room.room.kind : room.last.text}</span>
        </span>
        {unread > 0 && (
          <span class="badge" aria-hidden="true">
            {unread}
          </span>
        )}
      </button>
    </li>
  );
}

function SignIn({ state }: { state: ChatState }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      await state.signIn(mode, String(form.get("username")), String(form.get("password")));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Switchboard</h1>
      {state.signedOutBecause !== undefined && (
        <p class="signed-out" role="status">
          {state.signedOutBecause}
        </p>
      )}
      <form onSubmit={submit} aria-label={mode === "login" ? "Sign in" : "Create an account"}>
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            minLength={3}
            maxLength={32}
            pattern="[a-zA-Z0-9_.\-]+"
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={mode === "login" ? "current-password" : "new-password"}
            required
            minLength={8}
          />
        </label>
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {mode === "login" ? "Sign in" : "Create account"}
        </button>
        <button
          type="button"
          class="link"
          onClick={() => setMode(mode === "login" ? "register" : "login")}
        >
          {mode === "login" ? "New here? Create an account" : "Have an account? Sign in"}
        </button>
      </form>
      {state.signOnProvider !== undefined && (
        <section class="sso" aria-label="Single sign-on">
          <p class="or">or</p>
          <button type="button" class="sso-button" onClick={() => state.signInWithProvider()}>
            Sign in with {state.signOnProvider}
          </button>
        </section>
      )}
      {state.signOnError !== undefined && (
        <p class="error" role="alert">
          Single sign-on failed: {state.signOnError}
        </p>
      )}
    </main>
  );
}
