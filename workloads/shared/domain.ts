// The chat domain as the core sees it: plain, already-validated values.
// Wire formats (REST bodies, WebSocket frames, bus events) are parsed into these at the edges.

export type RoomKind = "direct" | "group" | "channel" | "match";
export type MemberRole = "owner" | "member";
export type MsgType = "text" | "image" | "file" | "system";

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  /** empty for an account made by single sign-on: no password opens it */
  readonly passwordHash: string;
  readonly createdAt: Date;
  /**
   * Lower-cased. On a password account, what the user typed at registration (not verified by
   * us); on one made by single sign-on, the provider's verified address.
   */
  readonly email?: string;
  /**
   * true when the email is known to be the user's: the provider that made the account vouched
   * for it. Absent (unverified) on password accounts. Single sign-on links by email only to an
   * account whose email is verified (docs/decisions/0023).
   */
  readonly emailVerified?: true;
}

/** An account at an OpenID Connect provider (issuer, subject) that signs in as one of our users. */
export interface IdentityLink {
  readonly issuer: string;
  readonly subject: string;
  readonly userId: string;
  readonly linkedAt: Date;
}

/** One of our sessions (a refresh token family) that a sign-on at a provider started. */
export interface SignOnSession {
  readonly issuer: string;
  readonly subject: string;
  /** the provider's session (the ID token's `sid`), when it names one */
  readonly providerSessionId: string | undefined;
  readonly sessionId: string;
  readonly userId: string;
  /** our session's end at the latest: the record is gone then */
  readonly expiresAt: Date;
}

export interface Room {
  readonly id: string;
  readonly kind: RoomKind;
  /** Display name; null for direct and match rooms. */
  readonly name: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
}

export interface Member {
  readonly roomId: string;
  readonly userId: string;
  readonly role: MemberRole;
  readonly joinedAt: Date;
}

export interface MessageContent {
  readonly text?: string;
  /**
   * image and file messages: the uploaded object's key in the cluster's object store
   * (`<cluster>/<room id>/<object id>`), or an external `url`, never both; then its name, size
   * and media type (for an uploaded object, as the store reported them at send)
   */
  readonly key?: string;
  readonly url?: string;
  readonly name?: string;
  readonly size?: number;
  readonly mime?: string;
}

/** A message as stored: `seq` is the room's gap-free sequence, starting at 1. */
export interface StoredMessage {
  readonly roomId: string;
  readonly seq: number;
  readonly id: string;
  readonly senderId: string;
  readonly clientMsgId: string;
  readonly msgType: MsgType;
  readonly content: MessageContent;
  readonly createdAt: Date;
  /** a reply: the seq of the earlier message of the same room it answers */
  readonly replyTo?: number;
}

export interface ReadPosition {
  readonly roomId: string;
  readonly userId: string;
  readonly seq: number;
  readonly at: Date;
}

/** Where a room stands: its last sequence and activity. */
export interface RoomState {
  readonly roomId: string;
  readonly lastSeq: number;
  readonly lastActivity: Date;
}

export interface RefreshToken {
  /** the token's id (jti); the token string the client holds is signed and carries it */
  readonly id: string;
  readonly userId: string;
  /** every token rotated from one login shares a family; reuse revokes the family */
  readonly family: string;
  readonly expiresAt: Date;
}
