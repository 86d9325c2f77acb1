// The side panels: talk to a stranger (waiting, cancel), and new rooms (direct, group, channel;
// browse and join channels).
import { useState } from "preact/hooks";
import type { ChatState } from "./state.ts";

export function Stranger({ state }: { state: ChatState }) {
  const m = state.matching;
  if (m.state === "waiting") {
    return (
      <div class="stranger waiting" role="status">
        <span class="spinner" aria-hidden="true" />
        Looking for a stranger…
        <button
          type="button"
          onClick={() => state.attempt("Cancelling", () => state.cancelStranger())}
        >
          Cancel
        </button>
      </div>
    );
  }
  return (
    <div class="stranger">
      <button
        type="button"
        class="primary"
        onClick={() => state.attempt("Finding a stranger", () => state.findStranger())}
      >
        Talk to a stranger
      </button>
      {m.state === "error" && (
        <p class="error" role="alert">
          {m.message}
        </p>
      )}
    </div>
  );
}

export function NewRoom({ state }: { state: ChatState }) {
  const [open, setOpen] = useState(false);
  const [kind, setKind] = useState<"direct" | "group" | "channel">("direct");
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const ids = String(form.get("ids") ?? "")
      .split(/[\s,]+/)
      .filter((s) => s !== "");
    try {
      await state.createRoom(kind, String(form.get("name") ?? ""), ids);
      setOpen(false);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <details
      class="new-room"
      open={open}
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>New room or channel</summary>
      <form onSubmit={submit}>
        <fieldset>
          <legend>Kind</legend>
          {(["direct", "group", "channel"] as const).map((k) => (
            <label key={k} class="inline">
              <input
                type="radio"
                name="kind"
                value={k}
                checked={kind === k}
                onChange={() => setKind(k)}
              />{" "}
              {k}
            </label>
          ))}
        </fieldset>
        {kind !== "direct" && (
          <label>
            Name
            <input name="name" required maxLength={100} />
          </label>
        )}
        {kind !== "channel" && (
          <label>
            {kind === "direct" ? "Their user id" : "Member user ids (comma separated)"}
            <input name="ids" required={kind === "direct"} />
          </label>
        )}
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Create</button>
      </form>
      <Channels state={state} />
    </details>
  );
}

function Channels({ state }: { state: ChatState }) {
  return (
    <section class="channels" aria-label="Public channels">
      <button
        type="button"
        class="link"
        onClick={() => state.attempt("Listing channels", () => state.browseChannels())}
      >
        Browse public channels
      </button>
      <ul>
        {state.channels.map((c) => (
          <li key={c.id}>
            <span>{c.name}</span>
            {state.rooms.has(c.id) ? (
              <span class="hint">joined</span>
            ) : (
              <button
                type="button"
                onClick={() => state.attempt("Joining", () => state.joinChannel(c.id))}
              >
                Join
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
