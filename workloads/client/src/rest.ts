// The gateway's REST API (/v1/auth, /v1/me, /v1/users, /v1/rooms, /v1/channels, /v1/match, uploads,
// /v1/notifications), typed, with a timeout on every request, and a session that refreshes its
// access token once at a time.
import { ClientError, type LocalErrorCode } from "./errors.ts";
import type { ErrorCode, ServerMessageFrame } from "./protocol.ts";

export interface User {
  readonly id: string;
  readonly username: string;
  readonly display_name: string;
  readonly created_at: string;
  /** your own email, when the account has one (sign-in and /v1/me only) */
  readonly email?: string;
}
/** What anyone signed in may see of another user (GET /v1/users). */
export interface PublicUser {
  readonly id: string;
  readonly username: string;
  readonly display_name: string;
}
/** at most this many ids in one `users` lookup */
export const MAX_USER_LOOKUP = 100;
/** Whether the gateway signs in with an OpenID Connect provider (GET /v1/auth/oidc). */
export interface SignOnInfo {
  readonly enabled: boolean;
  readonly provider_name?: string;
}
export interface TokenPair {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly token_type: "Bearer";
  /** access token lifetime in seconds */
  readonly expires_in: number;
}
export type RoomKind = "direct" | "group" | "channel" | "match";
export interface Room {
  readonly id: string;
  readonly kind: RoomKind;
  readonly name: string | null;
  readonly created_by: string;
  readonly created_at: string;
}
export interface RoomSummary {
  readonly room: Room;
  readonly last_seq: number;
  readonly last_activity: string;
  readonly read_seq: number;
  readonly unread: number;
}
export interface Member {
  readonly user_id: string;
  readonly role: "owner" | "member";
  readonly joined_at: string;
  readonly online: boolean;
}
/** a stored message: the `message` frame without its type */
export type Message = Omit<ServerMessageFrame, "type">;
export interface HistoryPage {
  readonly messages: Message[];
  /** pass as `before` for the previous (older) page */
  readonly next_before?: number;
  readonly next_after?: number;
}
/**
 * What you missed while offline (one per message): a direct message, a mention of you, or a reply
 * to one of your messages (a reply that also mentions you is a reply).
 */
export interface Notification {
  /** the message's id */
  readonly id: string;
  readonly kind: "direct" | "mention" | "reply";
  readonly room_id: string;
  readonly sender_id: string;
  readonly excerpt: string;
  readonly created_at: string;
  readonly read: boolean;
  /** pass as `before` (the next page) or `upTo` (markNotificationsRead) */
  readonly cursor: string;
}
export interface NotificationPage {
  /** newest first */
  readonly notifications: Notification[];
  /** unread notifications, at most 999 */
  readonly unread: number;
  /** pass as `before` for the next (older) page; absent on the last page */
  readonly next_before?: string;
}
export type CreateRoom =
  | { readonly kind: "group" | "channel"; readonly name: string; readonly members?: string[] }
  | { readonly kind: "direct"; readonly user_id: string };

/** A presigned upload (POST /v1/rooms/{id}/uploads): post the file with postUpload. */
export interface UploadGrant {
  /** name it as content.key in the image or file message */
  readonly key: string;
  readonly object_id: string;
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly expires_at: string;
  readonly max_bytes: number;
}
export interface DownloadGrant {
  readonly key: string;
  readonly url: string;
  readonly expires_at: string;
}
/** The object id of a message's content.key (its last segment), for downloadUrl. */
export const objectIdOfKey = (key: string): string => key.slice(key.lastIndexOf("/") + 1);

/**
 * Posts a file to the object store as the grant describes (its fields, then the file). The store
 * refuses a larger file than asked for, another media type, or an expired grant: a ClientError
 * with the store's HTTP status (code BAD_REQUEST or FORBIDDEN).
 */
export async function postUpload(
  grant: UploadGrant,
  file: Blob,
  timeoutMs = 60_000,
): Promise<void> {
  const form = new FormData();
  for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
  form.append("file", file);
  let res: Response;
  try {
    res = await fetch(grant.url, {
      method: "POST",
      body: form,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ClientError("NETWORK", `the object store did not answer: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const body = await res.text();
    const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? "";
    throw new ClientError(
      res.status === 403 ? "FORBIDDEN" : "BAD_REQUEST",
      `the object store refused the upload: ${res.status} ${code}`,
      { status: res.status },
    );
  }
}

export interface ApiOptions {
  /** the gateway's http(s) base address, e.g. http://127.0.0.1:8080 */
  readonly baseUrl: string;
  /** per request, in ms (default 10 000) */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** One REST call's answer or a ClientError with the gateway's error code. */
export class Api {
  readonly baseUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(o: ApiOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#fetch = o.fetch ?? ((input, init) => fetch(input, init));
  }

  async call<T>(method: string, path: string, o: { body?: unknown; token?: string } = {}) {
    let res: Response;
    try {
      res = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(o.body === undefined ? {} : { "content-type": "application/json" }),
          ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }),
        },
        ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const timeout = (err as Error).name === "TimeoutError";
      const code: LocalErrorCode = timeout ? "TIMEOUT" : "NETWORK";
      throw new ClientError(code, `${method} ${path}: ${(err as Error).message}`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const json = text === "" ? undefined : (JSON.parse(text) as unknown);
    if (!res.ok) {
      const e = (json as { error?: { code: string; message: string; retry_after_ms?: number } })
        ?.error;
      throw new ClientError(
        (e?.code ?? "INTERNAL") as ErrorCode,
        e?.message ?? `${method} ${path}: HTTP ${res.status}`,
        { retryAfterMs: e?.retry_after_ms, status: res.status },
      );
    }
    return json as T;
  }

  register(username: string, password: string, displayName?: string, email?: string) {
    return this.call<{ user: User; tokens: TokenPair }>("POST", "/v1/auth/register", {
      body: {
        username,
        password,
        ...(displayName ? { display_name: displayName } : {}),
        ...(email ? { email } : {}),
      },
    });
  }
  /** Single sign-on: is it on, and the provider's name for a button. */
  signOnInfo() {
    return this.call<SignOnInfo>("GET", "/v1/auth/oidc");
  }
  /**
   * Where a browser goes to sign in with the provider; it comes back to the web client with
   * `#sso_code=...` (trade it with signOnExchange) or `#sso_error=<code>&sso_message=...`.
   */
  signOnStartUrl(): string {
    return `${this.baseUrl}/v1/auth/oidc/start`;
  }
  /** Trades the one-time code of a single sign-on for the user and a new session's tokens. */
  signOnExchange(code: string) {
    return this.call<{ user: User; tokens: TokenPair }>("POST", "/v1/auth/oidc/exchange", {
      body: { code },
    });
  }
  login(username: string, password: string) {
    return this.call<{ user: User; tokens: TokenPair }>("POST", "/v1/auth/login", {
      body: { username, password },
    });
  }
  refresh(refreshToken: string) {
    return this.call<TokenPair>("POST", "/v1/auth/refresh", {
      body: { refresh_token: refreshToken },
    });
  }
  logout(token: string, refreshToken?: string) {
    return this.call<void>("POST", "/v1/auth/logout", {
      token,
      body: refreshToken === undefined ? {} : { refresh_token: refreshToken },
    });
  }
}

/** What a session keeps, and what to store to survive a page reload. */
export interface SessionState {
  readonly user: User;
  readonly tokens: TokenPair;
  /** when the access token expires (ms since the epoch) */
  readonly expiresAt: number;
}

/**
 * A logged-in user: hands out a valid access token, refreshing it shortly before it expires
 * or when asked to (a refresh token is single-use: concurrent callers share one refresh), and
 * calls the authenticated REST routes with it.
 */
export class Session {
  readonly api: Api;
  #state: SessionState;
  #refreshing: Promise<string> | undefined;
  readonly #onChange: (s: SessionState) => void;

  constructor(api: Api, state: SessionState, onChange: (s: SessionState) => void = () => {}) {
    this.api = api;
    this.#state = state;
    this.#onChange = onChange;
  }

  static fromAuth(
    api: Api,
    auth: { user: User; tokens: TokenPair },
    onChange?: (s: SessionState) => void,
  ): Session {
    const state = { ...auth, expiresAt: Date.now() + auth.tokens.expires_in * 1000 };
    onChange?.(state);
    return new Session(api, state, onChange);
  }

  get user(): User {
    return this.#state.user;
  }
  get state(): SessionState {
    return this.#state;
  }

  /** A valid access token; `refresh` forces a new one (e.g. the gateway refused the last). */
  accessToken(o: { refresh?: boolean } = {}): Promise<string> {
    const soon = this.#state.expiresAt - 30_000 < Date.now();
    if (!o.refresh && !soon) return Promise.resolve(this.#state.tokens.access_token);
    this.#refreshing ??= this.api
      .refresh(this.#state.tokens.refresh_token)
      .then((tokens) => {
        this.#state = { ...this.#state, tokens, expiresAt: Date.now() + tokens.expires_in * 1000 };
        this.#onChange(this.#state);
        return tokens.access_token;
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** An authenticated REST call; refused once as expired, it refreshes and tries again. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const send = async (refresh: boolean) =>
      this.api.call<T>(method, path, {
        token: await this.accessToken({ refresh }),
        ...(body === undefined ? {} : { body }),
      });
    try {
      return await send(false);
    } catch (err) {
      if (err instanceof ClientError && err.code === "TOKEN_EXPIRED") return send(true);
      throw err;
    }
  }

  logout(): Promise<void> {
    return this.api.logout(this.#state.tokens.access_token, this.#state.tokens.refresh_token);
  }
  /**
   * Logs out where the gateway has single sign-on: ends the session as logout() does, and
   * answers `end_session_url` when the session came from a sign-on in this browser (send the
   * page there to end the provider's session too). Needs the gateway's cookie: call it from the
   * page's own origin.
   */
  signOnLogout() {
    return this.call<{ end_session_url?: string }>("POST", "/v1/auth/oidc/logout", {
      refresh_token: this.#state.tokens.refresh_token,
    });
  }
  me() {
    return this.call<User>("GET", "/v1/me");
  }
  /** The public profiles of these user ids (1 to MAX_USER_LOOKUP); ids of no user are left out. */
  users(ids: readonly string[]) {
    const query = encodeURIComponent([...new Set(ids)].join(","));
    return this.call<{ users: PublicUser[] }>("GET", `/v1/users?ids=${query}`);
  }
  /**
   * Starts linking the gateway's single sign-on provider to this user (in a browser): send the
   * page to `authorization_url`; it comes back with `#sso_linked=<provider>` or `#sso_error=...`.
   * Needs the cookie the answer sets, so call it from the page's own origin.
   */
  signOnLink() {
    return this.call<{ authorization_url: string }>("POST", "/v1/auth/oidc/link");
  }
  rooms() {
    return this.call<{ rooms: RoomSummary[] }>("GET", "/v1/rooms");
  }
  channels(limit = 50) {
    return this.call<{ rooms: Room[] }>("GET", `/v1/channels?limit=${limit}`);
  }
  createRoom(body: CreateRoom) {
    return this.call<Room>("POST", "/v1/rooms", body);
  }
  room(roomId: string) {
    return this.call<Room>("GET", `/v1/rooms/${roomId}`);
  }
  join(roomId: string) {
    return this.call<Room>("POST", `/v1/rooms/${roomId}/join`, {});
  }
  leave(roomId: string) {
    return this.call<void>("POST", `/v1/rooms/${roomId}/leave`, {});
  }
  members(roomId: string) {
    return this.call<{ members: Member[] }>("GET", `/v1/rooms/${roomId}/members`);
  }
  addMember(roomId: string, userId: string) {
    return this.call<void>("POST", `/v1/rooms/${roomId}/members`, { user_id: userId });
  }
  /** Newest page without a cursor; `before`: the page ending right before that seq. */
  history(roomId: string, o: { before?: number; after?: number; limit?: number } = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(o)) if (v !== undefined) q.set(k, String(v));
    const qs = q.size === 0 ? "" : `?${q}`;
    return this.call<HistoryPage>("GET", `/v1/rooms/${roomId}/messages${qs}`);
  }
  /** A presigned upload of one file to the room (members only; see postUpload). */
  requestUpload(roomId: string, file: { name: string; size: number; content_type: string }) {
    return this.call<UploadGrant>("POST", `/v1/rooms/${roomId}/uploads`, file);
  }
  /** A presigned, expiring URL of one of the room's objects (members only). */
  downloadUrl(roomId: string, objectId: string) {
    return this.call<DownloadGrant>("GET", `/v1/rooms/${roomId}/objects/${objectId}`);
  }
  markRead(roomId: string, seq: number) {
    return this.call<{ room_id: string; seq: number }>("PUT", `/v1/rooms/${roomId}/read`, { seq });
  }
  notifications(o: { before?: string; limit?: number } = {}) {
    const q = new URLSearchParams();
    if (o.before !== undefined) q.set("before", o.before);
    if (o.limit !== undefined) q.set("limit", String(o.limit));
    const qs = q.size === 0 ? "" : `?${q}`;
    return this.call<NotificationPage>("GET", `/v1/notifications${qs}`);
  }
  /** marks one notification (by its message id) read */
  markNotificationRead(messageId: string) {
    return this.call<Notification>("POST", `/v1/notifications/${messageId}/read`);
  }
  /** marks the notification at `upTo` and every older one read (all without it) */
  markNotificationsRead(upTo?: string) {
    return this.call<{ unread: number }>(
      "POST",
      "/v1/notifications/read",
      upTo === undefined ? {} : { up_to: upTo },
    );
  }
  mutedRooms() {
    return this.call<{ room_ids: string[] }>("GET", "/v1/mutes");
  }
  mute(roomId: string) {
    return this.call<{ room_id: string; muted: true }>("PUT", `/v1/rooms/${roomId}/mute`);
  }
  unmute(roomId: string) {
    return this.call<{ room_id: string; muted: false }>("DELETE", `/v1/rooms/${roomId}/mute`);
  }
}
