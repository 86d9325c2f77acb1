// One room: its history (older pages load when scrolled to the top), my sends with their
// delivery state, who is typing, seen receipts, the composer, and uploads (the attach button,
// a file dropped on the room, an image pasted into the composer) shown with their progress,
// images as previews and other files as links; and replies: Reply on a bubble makes the next
// message answer it, and a reply shows a quote of the message it answers above its own text.
import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { MuteToggle } from "./notifications.tsx";
import type { Attachment, ChatState, Line, Quote, RoomView } from "./state.ts";

const TYPING_REPEAT_MS = 3_000;

export function ChatView({ state, room }: { state: ChatState; room: RoomView }) {
  const list = useRef<HTMLDivElement>(null);
  const positioned = useRef(false);
  const stick = useRef(true);
  /** while an older page loads: the height and first message before it */
  const anchor = useRef<{ height: number; first: string | undefined } | undefined>(undefined);
  const typingSent = useRef(0);
  const composer = useRef<HTMLTextAreaElement>(null);
  const id = room.room.id;

  // first render with messages: scroll to the first unseen one, else to the end; later, stay at
  // the end while the reader is there, and keep the view still when older pages are added
  useLayoutEffect(() => {
    const el = list.current;
    if (el === null || !room.loaded || room.opening) return;
    if (!positioned.current) {
      positioned.current = true;
      const first = el.querySelector(".divider"); // the first unseen message
      if (first !== null) first.scrollIntoView({ block: "start" });
      else el.scrollTop = el.scrollHeight;
      stick.current = atEnd(el);
    } else if (anchor.current !== undefined && anchor.current.first !== room.lines[0]?.key) {
      el.scrollTop += el.scrollHeight - anchor.current.height; // older page above: stay put
      anchor.current = undefined;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
    // a first page that does not fill the view cannot be scrolled up: load more at once
    if (el.scrollHeight <= el.clientHeight) loadOlder(el);
    if (atEnd(el) && document.visibilityState === "visible") state.markSeen(id);
  });

  useEffect(() => {
    const seen = () => {
      const el = list.current;
      if (el !== null && atEnd(el) && document.visibilityState === "visible") state.markSeen(id);
    };
    document.addEventListener("visibilitychange", seen);
    return () => {
      document.removeEventListener("visibilitychange", seen);
      state.typing(id, "stop");
    };
  }, [state, id]);

  const onScroll = () => {
    const el = list.current;
    if (el === null) return;
    stick.current = atEnd(el);
    if (stick.current) state.markSeen(id);
    if (el.scrollTop < 40) loadOlder(el);
  };
  const loadOlder = (el: HTMLElement) => {
    if (room.olderBefore === undefined || anchor.current !== undefined) return;
    anchor.current = { height: el.scrollHeight, first: room.lines[0]?.key };
    state.loadOlder(id).catch(() => {
      anchor.current = undefined;
    });
  };

  const onInput = (e: Event) => {
    const empty = (e.currentTarget as HTMLTextAreaElement).value === "";
    if (empty) {
      typingSent.current = 0;
      state.typing(id, "stop");
    } else if (Date.now() - typingSent.current > TYPING_REPEAT_MS) {
      typingSent.current = Date.now();
      state.typing(id, "start");
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem("text") as HTMLTextAreaElement;
    const text = input.value.trim();
    if (text === "") return;
    stick.current = true;
    state.send(id, text);
    input.value = "";
    typingSent.current = 0;
    state.typing(id, "stop");
  };
  const replyTo = (seq: number | undefined) => {
    state.replyTo(id, seq);
    composer.current?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape" && room.replyingTo !== undefined) {
      e.preventDefault();
      replyTo(undefined);
    } else if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      (e.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
    }
  };

  const [dropping, setDropping] = useState(false);
  const uploadAll = (files: Iterable<File>) => {
    for (const f of files) {
      stick.current = true;
      state.upload(id, f);
    }
  };
  const onPaste = (e: ClipboardEvent) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0) return; // text: the textarea takes it
    e.preventDefault();
    uploadAll(files);
  };
  const onDragOver = (e: DragEvent) => {
    if (!e.dataTransfer?.types.includes("Files")) return;
    e.preventDefault();
    setDropping(true);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDropping(false);
    uploadAll(e.dataTransfer?.files ?? []);
  };
  const onPick = (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    uploadAll([...(input.files ?? [])]);
    input.value = "";
  };

  const title = state.title(room);
  const typing = state.typingNames(room);
  const lastMine = room.lines.findLast((l) => l.senderId === state.me && l.seq !== undefined);
  const canLeave = room.room.kind !== "direct";
  return (
    <section
      class={`room-view ${dropping ? "dropping" : ""}`}
      aria-label={`Room ${title}`}
      onDragOver={onDragOver}
      onDragLeave={() => setDropping(false)}
      onDrop={onDrop}
    >
      <header class="room-head">
        <button
          type="button"
          class="back"
          onClick={() => state.open(undefined)}
          aria-label="Back to rooms"
        >
          ←
        </button>
        <h2>{title}</h2>
        <span class="kind">{room.room.kind}</span>
        <MuteToggle state={state} roomId={id} />
        {canLeave && (
          <button
            type="button"
            class="link"
            onClick={() => state.attempt("Leaving", () => state.leave(id))}
          >
            {room.room.kind === "match" ? "End chat" : "Leave"}
          </button>
        )}
      </header>
      <div
        class="messages"
        ref={list}
        onScroll={onScroll}
        role="log"
        aria-label="Messages"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to scroll by keyboard
        tabIndex={0}
      >
        <ol>
          {room.olderBefore !== undefined && <li class="more">Scroll up for older messages</li>}
          {!room.loaded && <li class="more">Loading…</li>}
          {room.lines.map((l) => (
            <Fragment key={l.key}>
              {l.seq !== undefined && l.seq === room.firstUnseen && (
                <li class="divider">New messages</li>
              )}
              <MessageLine
                state={state}
                room={room}
                line={l}
                receipt={l === lastMine && l.seq !== undefined && state.seenByOthers(room, l.seq)}
                onReply={replyTo}
              />
            </Fragment>
          ))}
        </ol>
      </div>
      <p class="typing" aria-live="polite">
        {typing.length > 0
          ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…`
          : ""}
      </p>
      {room.replyingTo !== undefined && (
        <div class="replying" role="status">
          <QuoteView
            state={state}
            quote={state.quote(id, room.replyingTo)}
            label="Replying to"
            onShow={() => show(list.current, room.replyingTo)}
          />
          <button
            type="button"
            class="link"
            onClick={() => replyTo(undefined)}
            aria-label="Cancel the reply"
          >
            ✕
          </button>
        </div>
      )}
      <form class="composer" onSubmit={submit}>
        <label class="sr-only" for="composer-text">
          Message
        </label>
        <textarea
          ref={composer}
          id="composer-text"
          name="text"
          rows={1}
          maxLength={4000}
          placeholder={room.replyingTo === undefined ? "Write a message" : "Write a reply"}
          onInput={onInput}
          onKeyDown={onKey}
          onBlur={() => state.typing(id, "stop")}
          onPaste={onPaste}
        />
        <label class="attach button" title="Attach a file (or drop it here, or paste an image)">
          Attach
          <input type="file" class="sr-only" multiple onChange={onPick} />
        </label>
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

function MessageLine(p: {
  state: ChatState;
  room: RoomView;
  line: Line;
  receipt: boolean;
  onReply: (seq: number) => void;
}) {
  const { state, line } = p;
  const seq = line.seq;
  if (line.system) {
    return (
      <li class="msg system" data-seq={line.seq}>
        <p class="text">{line.text}</p>
      </li>
    );
  }
  const mine = line.senderId === state.me;
  const time = new Date(line.createdAt).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
  return (
    <li
      class={`msg ${mine ? "mine" : ""} ${line.delivery}`}
      data-seq={line.seq}
      data-delivery={line.delivery}
    >
      {!mine && <span class="who">{state.name(line.senderId)}</span>}
      {line.replyTo !== undefined && (
        <QuoteView
          state={state}
          quote={state.quote(p.room.room.id, line.replyTo)}
          label="In reply to"
          onShow={(e) => show(e.currentTarget.closest(".messages"), line.replyTo)}
        />
      )}
      {line.attachment === undefined ? (
        <p class="text">{line.text}</p>
      ) : (
        <AttachmentView state={state} roomId={p.room.room.id} a={line.attachment} />
      )}
      <span class="meta">
        <time dateTime={line.createdAt}>{time}</time>
        {seq !== undefined && (
          <button
            type="button"
            class="link reply"
            onClick={() => p.onReply(seq)}
            aria-label={`Reply to ${mine ? "your message" : state.name(line.senderId)}: ${excerpt(line)}`}
          >
            Reply
          </button>
        )}
        {mine && line.delivery === "sending" && <span class="state">Sending…</span>}
        {mine && line.delivery === "sent" && !p.receipt && <span class="state">Sent</span>}
        {mine && p.receipt && <span class="state seen">Seen</span>}
        {mine && line.delivery === "failed" && (
          <>
            <span class="state failed">Not sent</span>
            {(line.attachment === undefined || line.attachment.key !== undefined) && (
              <button type="button" class="link" onClick={() => state.retry(p.room.room.id, line)}>
                Retry
              </button>
            )}
          </>
        )}
      </span>
    </li>
  );
}

/**
 * The message a reply answers: its author and the start of its text, a button that scrolls to
 * it when it is loaded.
 */
function QuoteView(p: {
  state: ChatState;
  quote: Quote;
  label: string;
  onShow: (e: MouseEvent & { currentTarget: HTMLElement }) => void;
}) {
  const q = p.quote;
  return (
    <button type="button" class="quote" onClick={p.onShow}>
      <span class="sr-only">{p.label} </span>
      {q.state === "found" ? (
        <>
          <span class="quote-who">{p.state.name(q.line.senderId)}</span>
          <span class="quote-text">{excerpt(q.line)}</span>
        </>
      ) : (
        <span class="quote-text">{q.state === "loading" ? "…" : "a message no longer here"}</span>
      )}
    </button>
  );
}

/** Scrolls the room's list to its message at seq, if it is loaded, and flashes it. */
function show(list: Element | null, seq: number | undefined): void {
  const el = list?.querySelector(`.msg[data-seq="${seq}"]`);
  if (el === null || el === undefined) return;
  el.scrollIntoView({ block: "center", behavior: "smooth" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1_200);
}

const QUOTE_CHARS = 90;
const excerpt = (l: Line): string => {
  const text = l.attachment === undefined ? l.text : l.attachment.name;
  const chars = [...text.replace(/\s+/g, " ").trim()];
  return chars.length <= QUOTE_CHARS ? chars.join("") : `${chars.slice(0, QUOTE_CHARS).join("")}…`;
};

/** An image as a preview, and a link to the object (its download URL); progress while uploading. */
function AttachmentView(p: { state: ChatState; roomId: string; a: Attachment }) {
  const { a } = p;
  const url = a.key === undefined ? undefined : p.state.objectUrl(p.roomId, a.key);
  const src = url ?? a.preview;
  const label = `${a.name} (${formatSize(a.size)})`;
  return (
    <div class={`attachment ${a.kind}`}>
      {a.kind === "image" && src !== undefined && <img class="preview" src={src} alt={a.name} />}
      {url === undefined ? (
        <span class="file-name">{label}</span>
      ) : (
        <a class="file-name" href={url} download={a.name} target="_blank" rel="noopener noreferrer">
          {label}
        </a>
      )}
      {a.progress !== undefined && (
        <progress max={1} value={a.progress} aria-label={`Uploading ${a.name}`} />
      )}
    </div>
  );
}

const formatSize = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KB`
      : `${(n / 1024 / 1024).toFixed(1)} MB`;

const atEnd = (el: HTMLElement) => el.scrollHeight - el.scrollTop - el.clientHeight < 24;
