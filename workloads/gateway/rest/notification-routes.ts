// /v1/notifications, /v1/mutes, /v1/rooms/{id}/mute: what a user missed while offline, and the
// rooms that give them no notifications (docs/decisions/0022).
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { encodeCursor, type ListedNotification } from "../../shared/backends/notifications.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Notifications } from "../core/notifications.ts";
import { AUTH_ERRORS, authenticate, errorResponses } from "./http.ts";
import {
  DEFAULT_PAGE,
  MarkAllReadBody,
  MutesBody,
  NotificationBody,
  NotificationParams,
  NotificationsPage,
  NotificationsQuery,
  type NotificationsQueryT,
  RoomParams,
  UnreadBody,
} from "./schemas.ts";

export const notificationJson = (n: ListedNotification) => ({
  id: n.messageId,
  kind: n.kind,
  room_id: n.roomId,
  sender_id: n.senderId,
  excerpt: n.excerpt,
  created_at: n.at.toISOString(),
  read: n.read,
  cursor: encodeCursor(n),
});

export function notificationRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  notifications: Notifications,
): void {
  const tags = ["notifications"];
  const security = [{ bearer: [] }];
  const preHandler = authenticate(ctx, tokens);

  app.get<{ Querystring: NotificationsQueryT }>(
    "/v1/notifications",
    {
      schema: {
        tags,
        security,
        summary: "List my notifications",
        description:
          "What you missed while offline: a message in a direct room, or one naming you with @username, from rooms you have not muted. Newest first; pass next_before as before for the next page. Notifications expire after 30 days.",
        querystring: NotificationsQuery,
        response: {
          200: NotificationsPage,
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) => {
      const { limit = DEFAULT_PAGE, before } = req.query;
      const [page, unread] = await Promise.all([
        notifications.list(req.userId, { limit, ...(before === undefined ? {} : { before }) }),
        notifications.unread(req.userId),
      ]);
      return {
        notifications: page.items.map(notificationJson),
        unread,
        ...(page.next === undefined ? {} : { next_before: encodeCursor(page.next) }),
      };
    },
  );

  app.post<{ Body: Static<typeof MarkAllReadBody> }>(
    "/v1/notifications/read",
    {
      schema: {
        tags,
        security,
        summary: "Mark my notifications read",
        description:
          "Marks the notification of up_to and every older one read (all of them without up_to). Answers the unread count left.",
        body: MarkAllReadBody,
        response: {
          200: UnreadBody,
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", ...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) => {
      await notifications.markAllRead(req.userId, req.body.up_to);
      return { unread: await notifications.unread(req.userId) };
    },
  );

  app.post<{ Params: Static<typeof NotificationParams> }>(
    "/v1/notifications/:message_id/read",
    {
      schema: {
        tags,
        security,
        summary: "Mark one notification read",
        params: NotificationParams,
        response: {
          200: NotificationBody,
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "NOTIFICATION_NOT_FOUND"),
        },
      },
      preHandler,
    },
    async (req) =>
      notificationJson(await notifications.markRead(req.userId, req.params.message_id)),
  );

  app.get(
    "/v1/mutes",
    {
      schema: {
        tags,
        security,
        summary: "List the rooms I muted",
        response: { 200: MutesBody, ...errorResponses(...AUTH_ERRORS) },
      },
      preHandler,
    },
    async (req) => ({ room_ids: await notifications.muted(req.userId) }),
  );

  app.put<{ Params: Static<typeof RoomParams> }>(
    "/v1/rooms/:room_id/mute",
    {
      schema: {
        tags,
        security,
        summary: "Mute a room",
        description: "Its messages give you no notifications (they still reach your sockets).",
        params: RoomParams,
        response: {
          200: Type.Object({ room_id: Type.String(), muted: Type.Literal(true) }),
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "ROOM_NOT_FOUND", "NOT_A_MEMBER"),
        },
      },
      preHandler,
    },
    async (req) => {
      await notifications.mute(req.userId, req.params.room_id);
      return { room_id: req.params.room_id, muted: true as const };
    },
  );

  app.delete<{ Params: Static<typeof RoomParams> }>(
    "/v1/rooms/:room_id/mute",
    {
      schema: {
        tags,
        security,
        summary: "Unmute a room",
        params: RoomParams,
        response: {
          200: Type.Object({ room_id: Type.String(), muted: Type.Literal(false) }),
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) => {
      await notifications.unmute(req.userId, req.params.room_id);
      return { room_id: req.params.room_id, muted: false as const };
    },
  );
}
