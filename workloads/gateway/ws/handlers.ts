// One function per client frame type. Each gets a parsed, typed frame; errors thrown here are
// ChatErrors that the socket server turns into error frames carrying the request id.

import type { MatchTicket } from "../../shared/backends/match-queue.ts";
import { ChatError } from "../../shared/errors.ts";
import { messageId } from "../../shared/ids.ts";
import type { ClientFrame } from "../../shared/protocol/frames.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Matching } from "../core/matching.ts";
import type { Messages } from "../core/messages.ts";
import type { Notifications } from "../core/notifications.ts";
import type { Rooms } from "../core/rooms.ts";
import type { Connection } from "./connection.ts";
import type { Hub } from "./hub.ts";

/**
 * A frame handled, or accepted with work still `inFlight` (the socket's next frame may be
 * handled meanwhile); `inFlight` rejects with the error to answer the frame with.
 */
export type Handled = undefined | { readonly inFlight: Promise<void> };

export interface HandlerDeps {
  readonly ctx: GatewayContext;
  readonly hub: Hub;
  readonly rooms: Rooms;
  readonly messages: Messages;
  readonly matching: Matching;
  readonly notifications: Notifications;
  readonly sessionId: string;
}

type FrameOf<T extends ClientFrame["type"]> = Extract<ClientFrame, { type: T }>;

const idOf = (id: string | undefined) => (id === undefined ? {} : { id });

/**
 * The socket's rooms follow membership through the bus; a room joined a moment ago may not
 * have reached it yet, so the store decides, and the socket is subscribed on the spot.
 */
async function requireRoom(d: HandlerDeps, conn: Connection, roomId: string): Promise<void> {
  if (conn.rooms.has(roomId)) return;
  await d.rooms.requireMember(conn.userId, roomId);
  const lastSeq = (await d.ctx.store.roomStates([roomId])).get(roomId)?.lastSeq ?? 0;
  await d.hub.subscribeUser(conn.userId, roomId, lastSeq);
}

export async function onHello(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"hello">,
): Promise<void> {
  if (conn.started) throw new ChatError("BAD_REQUEST", "hello was already sent on this connection");
  conn.started = true;
  const [rooms, unread] = await Promise.all([
    d.hub.open(conn, f.resume ?? {}),
    d.notifications.unreadForWelcome(conn.userId),
  ]);
  conn.send({
    type: "welcome",
    ...idOf(f.id),
    user_id: conn.userId,
    session_id: d.sessionId,
    heartbeat_ms: d.ctx.limits.heartbeatMs,
    max_frame_bytes: d.ctx.limits.maxFrameBytes,
    rooms,
    ...(unread === undefined ? {} : { unread_notifications: unread }),
  });
  await d.hub.catchUpAll(conn);
}

export async function onMessage(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"message">,
): Promise<Handled> {
  let roomId = f.room_id;
  if (roomId === undefined) {
    const room = await d.rooms.direct(conn.userId, f.to_user_id as string);
    roomId = room.id;
    // subscribe now, so the ack and the first messages reach this socket
    if (!conn.rooms.has(roomId)) await d.hub.subscribeUser(conn.userId, roomId, 0);
  }
  await requireRoom(d, conn, roomId);
  // expect the ack before producing: the forwarder may route it back before the produce resolves
  const id = messageId({ senderId: conn.userId, roomId, clientMsgId: f.client_msg_id });
  const pending = d.hub.expectAck(conn, id, f.id);
  // answered already when it fails: an earlier send of the same client_msg_id was acked, and so
  // was this one
  const failed = (err: unknown) => {
    if (d.hub.cancelAck(pending)) throw err;
  };
  try {
    const { produced } = await d.messages.accept({
      senderId: conn.userId,
      roomId,
      clientMsgId: f.client_msg_id,
      msgType: f.msg_type,
      content: f.content,
      ...(f.reply_to === undefined ? {} : { replyTo: f.reply_to }),
    });
    // the socket's next frame is handled while this one is produced: pipelined, in order
    return { inFlight: produced.then(() => undefined, failed) };
  } catch (err) {
    failed(err);
    return undefined;
  }
}

export async function onJoin(d: HandlerDeps, conn: Connection, f: FrameOf<"join">): Promise<void> {
  await d.rooms.join(conn.userId, f.room_id, f.id);
  if (conn.rooms.has(f.room_id)) {
    // already a member: confirm directly
    conn.send({ type: "user_joined", ...idOf(f.id), room_id: f.room_id, user_id: conn.userId });
  }
}

export async function onLeave(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"leave">,
): Promise<void> {
  await d.rooms.leave(conn.userId, f.room_id, f.id);
}

export async function onTyping(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"typing">,
): Promise<void> {
  await requireRoom(d, conn, f.room_id);
  await d.hub.broadcastEphemeral(f.room_id, {
    kind: "typing",
    roomId: f.room_id,
    userId: conn.userId,
    state: f.state,
  });
}

export async function onSeen(d: HandlerDeps, conn: Connection, f: FrameOf<"seen">): Promise<void> {
  await requireRoom(d, conn, f.room_id);
  await d.messages.markSeen(conn.userId, f.room_id, f.seq);
}

export async function onPresence(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"presence">,
): Promise<void> {
  await requireRoom(d, conn, f.room_id);
  const members = await d.ctx.store.listMembers(f.room_id);
  const online = await d.ctx.registry.onlineUsers(members.map((m) => m.userId));
  conn.send({ type: "presence", ...idOf(f.id), room_id: f.room_id, online: [...online].sort() });
}

function sendTicket(conn: Connection, id: string | undefined, t: MatchTicket): void {
  conn.send({
    type: "match_ticket",
    ...idOf(id),
    ticket_id: t.id,
    request_id: t.requestId,
    state: t.state,
    ...(t.roomId === undefined ? {} : { room_id: t.roomId }),
  });
}

export async function onMatch(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"match">,
): Promise<void> {
  const ticket = await d.matching.request(conn.userId, {
    requestId: f.request_id,
    tags: f.tags,
    language: f.language,
  });
  sendTicket(conn, f.id, ticket);
}

export async function onMatchCancel(
  d: HandlerDeps,
  conn: Connection,
  f: FrameOf<"match_cancel">,
): Promise<void> {
  const ticket =
    f.ticket_id === undefined
      ? await d.matching.cancelPending(conn.userId)
      : await d.matching.cancel(conn.userId, f.ticket_id);
  sendTicket(conn, f.id, ticket);
}

export async function dispatch(d: HandlerDeps, conn: Connection, f: ClientFrame): Promise<Handled> {
  if (f.type === "message" && conn.started) return onMessage(d, conn, f);
  await handle(d, conn, f);
  return undefined;
}

async function handle(d: HandlerDeps, conn: Connection, f: ClientFrame): Promise<void> {
  switch (f.type) {
    case "hello":
      return onHello(d, conn, f);
    case "ping":
      conn.send({ type: "pong", ...idOf(f.id) });
      return;
    default:
      if (!conn.started) throw new ChatError("BAD_REQUEST", "send hello first");
  }
  switch (f.type) {
    case "message":
      await onMessage(d, conn, f);
      return;
    case "join":
      return onJoin(d, conn, f);
    case "leave":
      return onLeave(d, conn, f);
    case "typing":
      return onTyping(d, conn, f);
    case "seen":
      return onSeen(d, conn, f);
    case "presence":
      return onPresence(d, conn, f);
    case "match":
      return onMatch(d, conn, f);
    case "match_cancel":
      return onMatchCancel(d, conn, f);
  }
}
