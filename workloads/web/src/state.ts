// The page's model: who is signed in, their rooms and what each shows, kept in step with the
// gateway through the client library. Components read it and call its actions; every change
// bumps `version` and tells the subscribers. Survives a page reload through sessionStorage (the
// session and each room's resume cursor; one login per tab, so two tabs never race to rotate
// the same refresh token) and the address's #hash (the open room).
import {
  Api,
  Backoff,
  ChatClient,
  type ClientMessageFrame,
  type ConnectionState,
  MAX_USER_LOOKUP,
  type Message,
  objectIdOfKey,
  type Room,
  type RoomSummary,
  type ServerMessageFrame,
  Session,
  type SessionState,
  type StateChange,
  type UploadGrant,
} from "../../client/src/index.ts";
import { NotificationsModel } from "./notifications.ts";

export type Delivery = "sending" | "sent" | "failed";
/** an uploaded image or file a message refers to */
export interface Attachment {
  readonly kind: "image" | "file";
  /** the object's key; undefined while the upload is still on its way to the store */
  readonly key: string | undefined;
  readonly name: string;
  readonly size: number;
  readonly mime: string;
  /** 0..1 while uploading; undefined once uploaded */
  readonly progress: number | undefined;
  /** my own upload's local preview (an object URL of the file) */
  readonly preview?: string;
}
export interface Line {
  readonly key: string;
  readonly seq: number | undefined;
  readonly senderId: string;
  readonly text: string;
  readonly createdAt: string;
  readonly clientMsgId: string;
  readonly delivery: Delivery;
  /** a notice the server posted (msg_type system), not a person's message */
  readonly system: boolean;
  readonly attachment?: Attachment;
  /** a reply: the seq of the room's message it answers */
  readonly replyTo?: number;
}
/** What a reply shows of the message it answers. */
export type Quote =
  | { readonly state: "loading" }
  | { readonly state: "missing" }
  | { readonly state: "found"; readonly line: Line };
export interface RoomView {
  room: Room;
  lastSeq: number;
  readSeq: number;
  unread: number;
  last: Line | undefined;
  /** loaded messages, in seq order, then my sends not yet acknowledged */
  lines: Line[];
  loaded: boolean;
  /** the first pages are loading (back to the first unseen message) */
  opening: boolean;
  /** the seq to pass as `before` for older messages; undefined: none left */
  olderBefore: number | undefined;
  members: string[];
  online: Set<string>;
  typing: Map<string, number>;
  /** member → the seq they have seen up to */
  seenBy: Map<string, number>;
  /** the unread position when the room was opened: the chat scrolls there */
  firstUnseen: number | undefined;
  /** the seq of the message the composer answers (Reply on a bubble); undefined: none */
  replyingTo: number | undefined;
  /** messages replies answer that are not among the loaded lines, read by seq */
  quotes: Map<number, Quote>;
}
export type Matching =
  | { readonly state: "idle" }
  | { readonly state: "waiting"; readonly ticketId: string | undefined }
  | { readonly state: "error"; readonly message: string };

/** a user id the gateway can look up (GET /v1/users) */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** times the page asks whether single sign-on is on before leaving its button out */
const SIGN_ON_INFO_ATTEMPTS = 4;
const SESSION_KEY = "switchboard.session";
/** why the page signed itself out, kept across the reload for the sign-in view */
const SIGNED_OUT_KEY = "switchboard.signed-out";
const SESSION_ENDED =
  "You were signed out: your session was ended elsewhere (a sign-out in another window, at your sign-in provider, or by an administrator).";
const SESSION_LOST =
  "You were signed out: your session ended (elsewhere, or it could not be renewed). Sign in again.";
const CURSORS_KEY = "switchboard.cursors";
const TYPING_SHOWN_MS = 6_000;
/** rooms whose last message and members are read at start (each is a REST call) */
const PRELOAD_ROOMS = 20;
/** older pages read at most to reach the first unseen message when a room opens */
const FIRST_UNSEEN_PAGES = 4;

/** how long one upload to the object store may take */
const UPLOAD_TIMEOUT_MS = 120_000;
/** a download URL is asked for again this long before it expires */
const URL_MARGIN_MS = 15_000;

const lineOf = (m: Message | ServerMessageFrame): Line => {
  const c = m.content;
  const uploaded = (m.msg_type === "image" || m.msg_type === "file") && c.key !== undefined;
  return {
    key: m.message_id,
    seq: m.seq,
    senderId: m.sender_id,
    text: c.text ?? c.name ?? c.url ?? `(${m.msg_type})`,
    createdAt: m.created_at,
    clientMsgId: m.client_msg_id,
    delivery: "sent",
    system: m.msg_type === "system",
    ...(m.reply_to !== undefined && { replyTo: m.reply_to }),
    ...(uploaded && {
      attachment: {
        kind: m.msg_type as "image" | "file",
        key: c.key,
        name: c.name ?? "file",
        size: c.size ?? 0,
        mime: c.mime ?? "application/octet-stream",
        progress: undefined,
      },
    }),
  };
};

/**
 * Posts the file to the object store as the grant says, reporting progress (XMLHttpRequest:
 * fetch reports none for uploads). The store's refusal rejects with its status and code.
 */
function postWithProgress(
  grant: UploadGrant,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", grant.url);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText)?.[1] ?? "";
        reject(new Error(`the store refused the upload (${xhr.status} ${code})`));
      }
    };
    xhr.onerror = () => reject(new Error("the upload did not reach the store"));
    xhr.ontimeout = () => reject(new Error("the upload timed out"));
    xhr.send(form);
  });
}

export class ChatState {
  readonly api = new Api({ baseUrl: location.origin });
  session: Session | undefined;
  client: ChatClient | undefined;
  /** set once signed in */
  notifications: NotificationsModel | undefined;
  connection: StateChange = { state: "connecting", attempt: 0 };
  rooms = new Map<string, RoomView>();
  activeId: string | undefined;
  names = new Map<string, string>();
  channels: Room[] = [];
  matching: Matching = { state: "idle" };
  /** the last action that failed, shown until dismissed */
  notice: string | undefined;
  /** news that is no failure (a provider linked; why a sign-on made a new account) */
  info: string | undefined;
  /** single sign-on's provider, when the gateway has one: the sign-in view offers its button */
  signOnProvider: string | undefined;
  /** why the last session ended without the person signing out, for the sign-in view */
  signedOutBecause: string | undefined;
  /** why the last single sign-on was refused, for the sign-in view */
  signOnError: string | undefined;
  version = 0;
  readonly #subscribers = new Set<() => void>();
  /** object key → its download URL and when that expires (ms) */
  readonly #urls = new Map<string, { url: string; expires: number }>();
  /** object keys whose download URL is being asked for */
  readonly #asking = new Set<string>();
  #roomsReload: ReturnType<typeof setTimeout> | undefined;
  /**
   * The newest message of each room that is not listed yet (a room I was just added to): the
   * client library counts it delivered, so it is kept here until the room list has the room.
   */
  #unlisted = new Map<string, ServerMessageFrame>();
  /** user ids whose names were asked for (or are being), so each is asked once */
  readonly #namesAsked = new Set<string>();
  /** user ids to ask the names of on the next turn, together */
  #namesWanted = new Set<string>();

  subscribe(fn: () => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
  changed(): void {
    this.version++;
    for (const fn of this.#subscribers) fn();
  }

  /** Runs an action from the page; a failure becomes the notice instead of an unhandled error. */
  attempt(what: string, action: () => Promise<unknown>): void {
    action().catch((err: Error) => {
      this.notice = `${what} failed: ${err.message}`;
      this.changed();
    });
  }

  get active(): RoomView | undefined {
    return this.activeId === undefined ? undefined : this.rooms.get(this.activeId);
  }
  get me(): string | undefined {
    return this.session?.user.id;
  }

  // ---- session ----

  /**
   * Picks up the session this tab had before a reload, if any, or the one a single sign-on
   * just made: the gateway sent the browser back with `#sso_code=...` (or `#sso_error=...`).
   */
  async restore(): Promise<void> {
    this.signedOutBecause = sessionStorage.getItem(SIGNED_OUT_KEY) ?? undefined;
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    const fragment = new URLSearchParams(location.hash.slice(1));
    const code = fragment.get("sso_code");
    const refused = fragment.get("sso_error");
    const linked = fragment.get("sso_linked");
    // said once signed in: why a sign-on made a new account, or that a link went through
    const told =
      fragment.get("sso_notice") ??
      (linked === null
        ? undefined
        : `Your ${linked} account is linked: you can sign in with ${linked} from now on.`);
    if (linked !== null) history.replaceState(null, "", location.pathname);
    if (code !== null || refused !== null) {
      // the code is good once: off the address before anything else (history, reloads)
      history.replaceState(null, "", location.pathname);
      const auth =
        code === null
          ? undefined
          : await this.api.signOnExchange(code).catch((err) => {
              this.signOnError = (err as Error).message;
              return undefined;
            });
      if (auth !== undefined) {
        sessionStorage.removeItem(CURSORS_KEY);
        this.info = told;
        await this.#start(Session.fromAuth(this.api, auth, (s) => this.#saveSession(s)));
        // signing out then ends the provider's session too
        await this.#loadSignOn();
        this.changed();
        return;
      }
      if (refused !== null) this.signOnError = fragment.get("sso_message") ?? refused;
    }
    const saved = sessionStorage.getItem(SESSION_KEY);
    if (saved === null) {
      await this.#loadSignOn();
      this.changed();
      return;
    }
    // back from linking the provider (or its refusal) in a session this tab holds
    if (this.signOnError !== undefined) {
      this.notice = `Linking failed: ${this.signOnError}`;
      this.signOnError = undefined;
    } else this.info = told;
    const state = JSON.parse(saved) as SessionState;
    await this.#start(new Session(this.api, state, (s) => this.#saveSession(s)));
    await this.#loadSignOn();
    this.changed();
  }

  async signIn(mode: "login" | "register", username: string, password: string): Promise<void> {
    const auth =
      mode === "login"
        ? await this.api.login(username, password)
        : await this.api.register(username, password);
    sessionStorage.removeItem(CURSORS_KEY);
    await this.#start(Session.fromAuth(this.api, auth, (s) => this.#saveSession(s)));
  }

  /**
   * Whether the gateway offers single sign-on. Asked again after a failure (a busy gateway, a
   * request cut off by the navigation back from the provider), a few times; after that the
   * button stays out until the page is loaded again.
   */
  async #loadSignOn(): Promise<void> {
    const backoff = new Backoff({ initialMs: 1_000 });
    for (;;) {
      const info = await this.api.signOnInfo().catch((err: unknown) => {
        console.warn(
          `asking whether single sign-on is on failed (attempt ${backoff.attempt + 1})`,
          err,
        );
        return undefined;
      });
      if (info !== undefined) {
        this.signOnProvider = info.enabled ? (info.provider_name ?? "SSO") : undefined;
        return;
      }
      if (backoff.attempt + 1 === SIGN_ON_INFO_ATTEMPTS) return;
      await new Promise((r) => setTimeout(r, backoff.next()));
    }
  }

  /** Leaves for the provider's login page; the gateway sends the browser back here. */
  signInWithProvider(): void {
    location.assign(this.api.signOnStartUrl());
  }

  /**
   * Links the provider's account to the signed-in user: to the provider's login page, from
   * where the gateway sends the browser back here (`#sso_linked=...` or `#sso_error=...`).
   */
  async linkProvider(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    const { authorization_url } = await session.signOnLink();
    location.assign(authorization_url);
  }

  /**
   * Ends the session; where the gateway has single sign-on and the session came from it, the
   * provider's session too (the browser goes to the provider's logout and comes back here).
   */
  async signOut(why?: string): Promise<void> {
    // once: closing the client reports "closed", which asks for a sign-out again
    if (this.#signingOut) return;
    this.#signingOut = true;
    const session = this.session;
    this.client?.close();
    sessionStorage.clear();
    const ended =
      session === undefined || this.signOnProvider === undefined
        ? undefined
        : await session.signOnLogout().catch(() => undefined);
    if (ended === undefined) await session?.logout().catch(() => {});
    // a token refresh that ended during the calls above must not leave the session behind
    sessionStorage.clear();
    // said by the sign-in view the page shows next
    if (why !== undefined) sessionStorage.setItem(SIGNED_OUT_KEY, why);
    if (ended?.end_session_url !== undefined) {
      location.assign(ended.end_session_url);
      return;
    }
    location.hash = "";
    location.reload();
  }

  #signingOut = false;

  #saveSession(s: SessionState): void {
    // signing out: a refresh that lands now (the sign-out calls refresh a token near its end)
    // would bring the ended session back on the next page
    if (this.#signingOut) return;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  }

  async #start(session: Session): Promise<void> {
    this.session = session;
    this.names.set(session.user.id, session.user.display_name);
    const cursors = JSON.parse(sessionStorage.getItem(CURSORS_KEY) ?? "{}") as Record<
      string,
      number
    >;
    const client = new ChatClient({
      url: location.origin,
      accessToken: (o) => session.accessToken(o),
      cursors,
    });
    this.client = client;
    const notifications = new NotificationsModel(session, () => this.changed());
    this.notifications = notifications;
    client.on("welcome", (w) => notifications.welcomed(w.unread_notifications));
    client.on("notifications", (n) => notifications.pushed(n.unread));
    client.on("state", (s) => {
      this.connection = s;
      // revoked (4005) or no token to be had: sign in again, told why
      if (s.state === "closed" && (s.closeCode === 4005 || s.closeCode === undefined)) {
        void this.signOut(s.closeCode === 4005 ? SESSION_ENDED : SESSION_LOST);
      }
      this.changed();
    });
    client.on("message", (m) => this.#onMessage(m));
    client.on("typing", (t) => {
      const r = this.rooms.get(t.room_id);
      if (r === undefined || t.user_id === this.me) return;
      if (t.state === "start") r.typing.set(t.user_id, Date.now() + TYPING_SHOWN_MS);
      else r.typing.delete(t.user_id);
      this.changed();
      if (t.state === "start") setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
    });
    client.on("seen", (s) => {
      const r = this.rooms.get(s.room_id);
      if (r === undefined) return;
      r.seenBy.set(s.user_id, Math.max(s.seq, r.seenBy.get(s.user_id) ?? 0));
      if (s.user_id === this.me) {
        r.readSeq = Math.max(r.readSeq, s.seq);
        r.unread = Math.max(0, r.lastSeq - r.readSeq);
      }
      this.changed();
    });
    client.on("presence", (p) => {
      const r = this.rooms.get(p.room_id);
      if (r === undefined) return;
      if (p.offline === undefined && p.id !== undefined) r.online = new Set(p.online);
      for (const u of p.online) r.online.add(u);
      for (const u of p.offline ?? []) r.online.delete(u);
      this.changed();
    });
    client.on("user_joined", (j) => {
      const r = this.rooms.get(j.room_id);
      if (r === undefined) {
        this.#reloadRoomsSoon();
        return;
      }
      if (!r.members.includes(j.user_id)) r.members.push(j.user_id);
      this.changed();
    });
    client.on("user_left", (l) => {
      if (l.user_id === this.me) {
        this.rooms.delete(l.room_id);
        if (this.activeId === l.room_id) this.open(undefined);
      } else {
        const r = this.rooms.get(l.room_id);
        if (r !== undefined) r.members = r.members.filter((u) => u !== l.user_id);
      }
      this.changed();
    });
    client.on("matched", (m) => {
      this.names.set(m.partner.id, m.partner.display_name);
      this.matching = { state: "idle" };
      void this.loadRooms().then(() => this.open(m.room_id));
    });
    addEventListener("online", () => client.setOnline(true));
    addEventListener("offline", () => client.setOnline(false));
    addEventListener("hashchange", () => {
      const id = this.#hashRoom();
      if (id !== this.activeId) this.open(id, false);
    });
    this.changed();
    await client.connect().catch(() => {});
    await this.loadRooms();
    this.open(this.#hashRoom(), false);
    this.attempt("Loading muted rooms", () => notifications.loadMutes());
  }

  #hashRoom(): string | undefined {
    const id = new URLSearchParams(location.hash.slice(1)).get("room");
    return id ?? undefined;
  }

  // ---- rooms ----

  async loadRooms(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    const { rooms } = await session.rooms();
    const fresh: RoomSummary[] = [];
    /** listed rooms with a newer message than the newest this page has */
    const behind: string[] = [];
    for (const s of rooms) {
      const r = this.rooms.get(s.room.id);
      if (r === undefined) fresh.push(s);
      else {
        if (s.last_seq > (r.last?.seq ?? 0) && s.last_seq > r.lastSeq) behind.push(s.room.id);
        r.lastSeq = Math.max(r.lastSeq, s.last_seq);
        r.readSeq = Math.max(r.readSeq, s.read_seq);
        r.unread = this.activeId === s.room.id ? 0 : Math.max(0, r.lastSeq - r.readSeq);
      }
    }
    for (const s of fresh) {
      this.rooms.set(s.room.id, {
        room: s.room,
        lastSeq: s.last_seq,
        readSeq: s.read_seq,
        unread: s.unread,
        last: undefined,
        lines: [],
        loaded: false,
        opening: false,
        olderBefore: undefined,
        members: [],
        online: new Set(),
        typing: new Map(),
        seenBy: new Map(),
        firstUnseen: undefined,
        replyingTo: undefined,
        quotes: new Map(),
      });
      // its first messages may have come while the list was read (it answers from before them)
      const early = this.#unlisted.get(s.room.id);
      this.#unlisted.delete(s.room.id);
      if (early !== undefined) this.#onMessage(early);
    }
    this.changed();
    await Promise.all([
      ...fresh.slice(0, PRELOAD_ROOMS).map((s) => this.#preload(s.room.id)),
      ...behind.slice(0, PRELOAD_ROOMS).map((id) => this.#preload(id)),
    ]);
    this.changed();
  }

  async #preload(roomId: string): Promise<void> {
    const session = this.session;
    const r = this.rooms.get(roomId);
    if (session === undefined || r === undefined) return;
    const [page, members] = await Promise.all([
      r.lastSeq > 0 ? session.history(roomId, { limit: 1 }) : undefined,
      session.members(roomId),
    ]).catch(() => [undefined, undefined] as const);
    const last = page?.messages.at(-1);
    if (last !== undefined && last.seq > (r.last?.seq ?? 0)) r.last = lineOf(last);
    if (members !== undefined) {
      r.members = members.members.map((m) => m.user_id);
      r.online = new Set(members.members.filter((m) => m.online).map((m) => m.user_id));
    }
  }

  #reloadRoomsSoon(): void {
    clearTimeout(this.#roomsReload);
    this.#roomsReload = setTimeout(() => void this.loadRooms().catch(() => {}), 200);
  }

  /** Opens a room (undefined: the room list); its newest page loads once. */
  open(roomId: string | undefined, push = true): void {
    const r = roomId === undefined ? undefined : this.rooms.get(roomId);
    this.activeId = r === undefined ? undefined : roomId;
    if (push) location.hash = r === undefined ? "" : `room=${roomId}`;
    if (r !== undefined) {
      r.firstUnseen = r.readSeq < r.lastSeq ? r.readSeq + 1 : undefined;
      if (!r.loaded && !r.opening) void this.#loadFirst(r);
    }
    this.changed();
  }

  /** The newest pages, back to the first unseen message (a few pages at most). */
  async #loadFirst(r: RoomView): Promise<void> {
    r.opening = true;
    try {
      await this.loadOlder(r.room.id);
      for (let i = 0; i < FIRST_UNSEEN_PAGES; i++) {
        const oldest = r.lines[0]?.seq;
        const want = r.firstUnseen;
        if (want === undefined || oldest === undefined || oldest <= want) break;
        if (r.olderBefore === undefined) break;
        await this.loadOlder(r.room.id);
      }
    } finally {
      r.opening = false;
      this.changed();
    }
  }

  /** Loads the page before the oldest loaded message (the newest page first). */
  async loadOlder(roomId: string): Promise<void> {
    const r = this.rooms.get(roomId);
    const session = this.session;
    if (r === undefined || session === undefined || (r.loaded && r.olderBefore === undefined)) {
      return;
    }
    const page = await session.history(
      roomId,
      r.loaded && r.olderBefore !== undefined ? { before: r.olderBefore } : {},
    );
    const have = new Set(r.lines.map((l) => l.key));
    const older = page.messages.filter((m) => !have.has(m.message_id)).map(lineOf);
    r.lines = [...older, ...r.lines].sort(bySeq);
    r.olderBefore = page.next_before;
    r.loaded = true;
    this.changed();
  }

  /** The reader has seen the room up to its newest message. */
  markSeen(roomId: string): void {
    const r = this.rooms.get(roomId);
    const newest = r?.lines.findLast((l) => l.seq !== undefined)?.seq;
    if (r === undefined || newest === undefined || newest <= r.readSeq) return;
    r.readSeq = newest;
    r.unread = Math.max(0, r.lastSeq - newest);
    this.client?.seen(roomId, newest);
    this.changed();
  }

  #onMessage(m: ServerMessageFrame): void {
    sessionStorage.setItem(CURSORS_KEY, JSON.stringify(this.client?.cursors() ?? {}));
    const r = this.rooms.get(m.room_id);
    if (r === undefined) {
      if (m.seq > (this.#unlisted.get(m.room_id)?.seq ?? 0)) this.#unlisted.set(m.room_id, m);
      this.#reloadRoomsSoon();
      return;
    }
    const line = lineOf(m);
    r.typing.delete(m.sender_id);
    r.lastSeq = Math.max(r.lastSeq, m.seq);
    r.last = line;
    if (m.sender_id === this.me) r.readSeq = Math.max(r.readSeq, m.seq);
    r.unread = Math.max(0, r.lastSeq - r.readSeq);
    if (r.loaded) {
      const rest = r.lines.filter((l) => l.key !== line.key && l.clientMsgId !== m.client_msg_id);
      r.lines = [...rest, line].sort(bySeq);
    }
    this.changed();
  }

  // ---- actions ----

  /**
   * Sends a text, as a reply to the message the composer answers (if any: then the composer
   * answers none again); a retry passes the failed line's client_msg_id and reply.
   */
  send(roomId: string, text: string, again?: { clientMsgId: string; replyTo?: number }): void {
    const me = this.me;
    const r = this.rooms.get(roomId);
    if (me === undefined || r === undefined) return;
    const id = again?.clientMsgId ?? crypto.randomUUID();
    const replyTo = again === undefined ? r.replyingTo : again.replyTo;
    if (again === undefined) r.replyingTo = undefined;
    this.#deliver(roomId, { text }, "text", {
      key: `pending:${id}`,
      seq: undefined,
      senderId: me,
      text,
      createdAt: new Date().toISOString(),
      clientMsgId: id,
      delivery: "sending",
      system: false,
      ...(replyTo !== undefined && { replyTo }),
    });
  }

  /** The composer answers the room's message at seq (undefined: a plain message again). */
  replyTo(roomId: string, seq: number | undefined): void {
    const r = this.rooms.get(roomId);
    if (r === undefined) return;
    r.replyingTo = seq;
    this.changed();
  }

  /**
   * The room's message at seq, for a reply's quote: from the loaded lines, else read once from
   * history (loading until it comes; missing if the room has none there).
   */
  quote(roomId: string, seq: number): Quote {
    const r = this.rooms.get(roomId);
    if (r === undefined) return { state: "missing" };
    const line = r.lines.find((l) => l.seq === seq);
    if (line !== undefined) return { state: "found", line };
    const known = r.quotes.get(seq);
    if (known !== undefined) return known;
    r.quotes.set(seq, { state: "loading" });
    const session = this.session;
    if (session === undefined) return { state: "loading" };
    session.history(roomId, { after: seq - 1, limit: 1 }).then(
      (page) => {
        const m = page.messages[0];
        r.quotes.set(
          seq,
          m !== undefined && m.seq === seq
            ? { state: "found", line: lineOf(m) }
            : { state: "missing" },
        );
        this.changed();
      },
      () => {
        r.quotes.delete(seq); // asked again on the next render
      },
    );
    return { state: "loading" };
  }

  /** Sends a failed message again: a text, or an upload that reached the store. */
  retry(roomId: string, line: Line): void {
    const a = line.attachment;
    if (a === undefined) {
      this.send(roomId, line.text, {
        clientMsgId: line.clientMsgId,
        ...(line.replyTo !== undefined && { replyTo: line.replyTo }),
      });
    } else if (a.key !== undefined) {
      this.#deliver(roomId, { key: a.key, name: a.name }, a.kind, {
        ...line,
        delivery: "sending",
      });
    }
  }

  /**
   * Uploads a file to the room: a presigned upload from the gateway, the file straight to the
   * object store (with progress), then an image or file message naming it.
   */
  upload(roomId: string, file: File): void {
    const session = this.session;
    const r = this.rooms.get(roomId);
    const me = this.me;
    if (session === undefined || r === undefined || me === undefined) return;
    const id = crypto.randomUUID();
    const mime = file.type === "" ? "application/octet-stream" : file.type;
    const kind = mime.startsWith("image/") ? "image" : "file";
    let line: Line = {
      key: `pending:${id}`,
      seq: undefined,
      senderId: me,
      text: file.name,
      createdAt: new Date().toISOString(),
      clientMsgId: id,
      delivery: "sending",
      system: false,
      attachment: {
        kind,
        key: undefined,
        name: file.name,
        size: file.size,
        mime,
        progress: 0,
        ...(kind === "image" && { preview: URL.createObjectURL(file) }),
      },
    };
    const show = (next: Line) => {
      line = next;
      r.lines = [...r.lines.filter((l) => l.clientMsgId !== id), next];
      this.changed();
    };
    const progress = (fraction: number) => {
      const a = line.attachment as Attachment;
      show({ ...line, attachment: { ...a, progress: fraction } });
    };
    show(line);
    (async () => {
      const grant = await session.requestUpload(roomId, {
        name: file.name,
        size: file.size,
        content_type: mime,
      });
      await postWithProgress(grant, file, progress);
      const a = line.attachment as Attachment;
      const uploaded: Line = { ...line, attachment: { ...a, key: grant.key, progress: undefined } };
      this.#deliver(roomId, { key: grant.key, name: file.name }, kind, uploaded);
    })().catch((err: Error) => {
      show({ ...line, delivery: "failed" });
      this.notice = `Uploading ${file.name} failed: ${err.message}`;
      this.changed();
    });
  }

  /** A download URL of one of the room's objects, asked for when missing or about to expire. */
  objectUrl(roomId: string, key: string): string | undefined {
    const cached = this.#urls.get(key);
    if (cached !== undefined && cached.expires - URL_MARGIN_MS > Date.now()) return cached.url;
    if (!this.#asking.has(key) && this.session !== undefined) {
      this.#asking.add(key);
      this.session
        .downloadUrl(roomId, objectIdOfKey(key))
        .then(
          (g) => {
            this.#urls.set(key, { url: g.url, expires: Date.parse(g.expires_at) });
            this.changed();
          },
          () => {},
        )
        .finally(() => this.#asking.delete(key));
    }
    return cached?.url;
  }

  #deliver(
    roomId: string,
    content: ClientMessageFrame["content"],
    msgType: ClientMessageFrame["msg_type"],
    pending: Line,
  ): void {
    const client = this.client;
    const r = this.rooms.get(roomId);
    if (client === undefined || r === undefined) return;
    const id = pending.clientMsgId;
    const { sent } = client.send({ room_id: roomId }, content, {
      clientMsgId: id,
      msgType,
      ...(pending.replyTo !== undefined && { replyTo: pending.replyTo }),
    });
    r.lines = [...r.lines.filter((l) => l.clientMsgId !== id), pending];
    this.changed();
    sent.then(
      (s) => {
        sessionStorage.setItem(CURSORS_KEY, JSON.stringify(client.cursors()));
        const done: Line = {
          ...pending,
          key: s.message_id,
          seq: s.seq,
          createdAt: s.created_at,
          delivery: "sent",
        };
        r.lines = [
          ...r.lines.filter((l) => l.clientMsgId !== id && l.key !== s.message_id),
          done,
        ].sort(bySeq);
        r.lastSeq = Math.max(r.lastSeq, s.seq);
        r.readSeq = Math.max(r.readSeq, s.seq);
        r.last = done;
        this.changed();
      },
      () => {
        r.lines = r.lines.map((l) =>
          l.clientMsgId === id && l.seq === undefined ? { ...l, delivery: "failed" } : l,
        );
        this.changed();
      },
    );
  }

  typing(roomId: string, state: "start" | "stop"): void {
    this.client?.typing(roomId, state);
  }

  async createRoom(kind: "direct" | "group" | "channel", name: string, ids: string[]) {
    const session = this.session;
    if (session === undefined) return;
    const room =
      kind === "direct"
        ? await session.createRoom({ kind, user_id: ids[0] ?? "" })
        : await session.createRoom({ kind, name, members: ids });
    await this.loadRooms();
    this.open(room.id);
  }

  async browseChannels(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    this.channels = (await session.channels()).rooms;
    this.changed();
  }

  async joinChannel(roomId: string): Promise<void> {
    await this.session?.join(roomId);
    await this.loadRooms();
    this.open(roomId);
  }

  async leave(roomId: string): Promise<void> {
    await this.session?.leave(roomId);
    this.rooms.delete(roomId);
    this.open(undefined);
  }

  async findStranger(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    this.matching = { state: "waiting", ticketId: undefined };
    this.changed();
    try {
      const ticket = await client.match();
      if (this.matching.state === "waiting")
        this.matching = { state: "waiting", ticketId: ticket.ticket_id };
    } catch (err) {
      this.matching = { state: "error", message: (err as Error).message };
    }
    this.changed();
  }

  async cancelStranger(): Promise<void> {
    const ticketId = this.matching.state === "waiting" ? this.matching.ticketId : undefined;
    this.matching = { state: "idle" };
    this.changed();
    await this.client?.matchCancel(ticketId);
  }

  // ---- what to show ----

  name(userId: string): string {
    // server senders (docs/server-api.md): `system`, or `bot:<name>` shown as the bot's name
    if (userId === "system") return "System";
    if (userId.startsWith("bot:")) return `${userId.slice(4)} (bot)`;
    const known = this.names.get(userId);
    if (known !== undefined) return known;
    this.#wantName(userId);
    return `user ${userId.slice(0, 8)}`;
  }

  /** Asks the gateway for the names of user ids shown without one, in batches, once each. */
  #wantName(userId: string): void {
    if (this.session === undefined || this.#namesAsked.has(userId) || !USER_ID.test(userId)) {
      return;
    }
    this.#namesAsked.add(userId);
    this.#namesWanted.add(userId);
    if (this.#namesWanted.size > 1) return; // a lookup is scheduled already
    setTimeout(() => {
      const ids = [...this.#namesWanted];
      this.#namesWanted = new Set();
      for (let i = 0; i < ids.length; i += MAX_USER_LOOKUP) {
        const part = ids.slice(i, i + MAX_USER_LOOKUP);
        this.session
          ?.users(part)
          .then(({ users }) => {
            for (const u of users) this.names.set(u.id, u.display_name);
            if (users.length > 0) this.changed();
          })
          // asked again when next shown
          .catch(() => {
            for (const id of part) this.#namesAsked.delete(id);
          });
      }
    }, 0);
  }

  title(r: RoomView): string {
    if (r.room.name !== null && r.room.name !== "") return r.room.name;
    const other = r.members.find((u) => u !== this.me);
    const who = other === undefined ? "someone" : this.name(other);
    return r.room.kind === "match" ? `Stranger: ${who}` : who;
  }

  /** the other member's presence in a direct or match room; undefined for groups and channels */
  peerOnline(r: RoomView): boolean | undefined {
    if (r.room.kind !== "direct" && r.room.kind !== "match") return undefined;
    const other = r.members.find((u) => u !== this.me);
    return other !== undefined && r.online.has(other);
  }

  typingNames(r: RoomView): string[] {
    const now = Date.now();
    return [...r.typing].filter(([, until]) => until > now).map(([u]) => this.name(u));
  }

  /** Whether someone else has seen my message at seq. */
  seenByOthers(r: RoomView, seq: number): boolean {
    for (const [u, s] of r.seenBy) if (u !== this.me && s >= seq) return true;
    return false;
  }

  connectionLabel(): { state: ConnectionState; text: string } {
    const c = this.connection;
    switch (c.state) {
      case "open":
        return { state: c.state, text: "Connected" };
      case "connecting":
        return { state: c.state, text: "Connecting…" };
      case "reconnecting":
        return {
          state: c.state,
          text: c.delayMs === undefined ? "Reconnecting…" : `Reconnecting (try ${c.attempt})…`,
        };
      case "offline":
        return { state: c.state, text: "Offline: waiting for the network" };
      case "closed":
        return { state: c.state, text: "Disconnected" };
    }
  }
}

const bySeq = (a: Line, b: Line) =>
  (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER);
