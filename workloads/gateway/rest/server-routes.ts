// /v1/server/...: the server API for backends (docs/server-api.md, docs/decisions/0018). Every
// route is authenticated by a server key, never a user's token, before its body is read, and
// takes a token from that key's bucket. What it does goes the way a user's action goes: a
// message through the bus, the forwarder's sequencing and the store; membership changes as
// member events on the bus; a disconnect over the delivery path that revocation uses.
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ChatError } from "../../shared/errors.ts";
import type { ServerKeys } from "../auth/server-keys.ts";
import type { Sessions } from "../auth/sessions.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Messages } from "../core/messages.ts";
import { takeToken } from "../core/rate.ts";
import type { Rooms } from "../core/rooms.ts";
import { errorResponses } from "./http.ts";
import { messageJson, roomJson } from "./room-routes.ts";
import {
  DisconnectBody,
  DisconnectedBody,
  MembershipBody,
  MembershipParams,
  MessageBody,
  RoomBody,
  RoomParams,
  ServerCreateRoomBody,
  type ServerCreateRoomBodyT,
  ServerPostBody,
  type ServerPostBodyT,
  UserParams,
} from "./schemas.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** the fingerprint of the server key the request presented */
    serverKey: string;
  }
}

/** The codes of a server API route that refuses the request before reading it. */
export const SERVER_AUTH_ERRORS = ["UNAUTHENTICATED", "FORBIDDEN"] as const;

/**
 * onRequest: the server API is on (FORBIDDEN otherwise), the bearer is one of its keys
 * (UNAUTHENTICATED otherwise), and that key's bucket has a token.
 */
export function authenticateServer(ctx: GatewayContext, keys: ServerKeys) {
  return async (req: FastifyRequest): Promise<void> => {
    if (!keys.enabled) {
      throw new ChatError(
        "FORBIDDEN",
        "the server API is off on this gateway: no server key is configured (SERVER_API_KEYS)",
      );
    }
    const header = req.headers.authorization;
    const key = header?.startsWith("Bearer ") ? keys.match(header.slice(7)) : undefined;
    if (key === undefined) {
      throw new ChatError("UNAUTHENTICATED", "send Authorization: Bearer <server key>");
    }
    req.serverKey = key;
    await takeToken(ctx, `server:${key}`, ctx.limits.serverRate);
  };
}

export function serverRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  keys: ServerKeys,
  rooms: Rooms,
  messages: Messages,
  sessions: Sessions,
): void {
  const tags = ["server"];
  const security = [{ serverKey: [] }];
  const onRequest = authenticateServer(ctx, keys);

  app.post<{ Params: Static<typeof RoomParams>; Body: ServerPostBodyT }>(
    "/v1/server/rooms/:room_id/messages",
    {
      schema: {
        tags,
        security,
        summary: "Post a message as a system or bot sender",
        description:
          "Posts into any room, as `system` or `bot:<name>`: the message takes the same path as a user's (the bus, the room's seq order, the store) and reaches every member's sockets. Answered once it is stored, with its seq. A retry with the same idempotency_key (same sender and room) creates nothing and answers the same message (200) while that message is among the room's latest 1,000; the same key for another message is IDEMPOTENCY_KEY_REUSED. UNAVAILABLE: not stored in time; retry with the same key.",
        params: RoomParams,
        body: ServerPostBody,
        response: {
          200: MessageBody,
          201: MessageBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...SERVER_AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "IDEMPOTENCY_KEY_REUSED",
            "REPLY_TO_NOT_FOUND",
            "OBJECT_NOT_IN_ROOM",
            "OBJECT_NOT_FOUND",
            "UPLOAD_TOO_LARGE",
            "UPLOAD_TYPE_NOT_ALLOWED",
            "UPLOADS_DISABLED",
          ),
        },
      },
      onRequest,
    },
    async (req, reply) => {
      const roomId = req.params.room_id;
      if ((await ctx.store.getRoom(roomId)) === undefined) {
        throw new ChatError("ROOM_NOT_FOUND", "no such room");
      }
      const b = req.body;
      const { message, created } = await messages.post({
        senderId: b.sender_id,
        roomId,
        clientMsgId: b.idempotency_key,
        msgType: b.msg_type ?? "text",
        content: b.content,
        ...(b.reply_to === undefined ? {} : { replyTo: b.reply_to }),
      });
      return reply.status(created ? 201 : 200).send(messageJson(message));
    },
  );

  app.post<{ Body: ServerCreateRoomBodyT }>(
    "/v1/server/rooms",
    {
      schema: {
        tags,
        security,
        summary: "Create a room",
        description:
          "A group or a public channel created by `system`, with the owner and members named (none: an empty room to add members to). Not idempotent: a retry creates another room.",
        body: ServerCreateRoomBody,
        response: {
          201: RoomBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...SERVER_AUTH_ERRORS,
            "USER_NOT_FOUND",
          ),
        },
      },
      onRequest,
    },
    async (req, reply) => {
      const b = req.body;
      const room = await rooms.createAsServer(b.kind, b.name, b.owner_id, b.members ?? []);
      return reply.status(201).send(roomJson(room));
    },
  );

  const member = "/v1/server/rooms/:room_id/members/:user_id";
  type M = { Params: Static<typeof MembershipParams> };

  app.put<M>(
    member,
    {
      schema: {
        tags,
        security,
        summary: "Add a member",
        description:
          "Adds the user to a group or a channel; members see `user_joined` and the user's sockets start receiving the room. Adding a member again changes nothing (changed: false). Direct and match rooms: FORBIDDEN.",
        params: MembershipParams,
        response: {
          200: MembershipBody,
          ...errorResponses(
            "BAD_REQUEST",
            ...SERVER_AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "USER_NOT_FOUND",
          ),
        },
      },
      onRequest,
    },
    async (req) => {
      const { room_id, user_id } = req.params;
      return { room_id, user_id, changed: await rooms.addAsServer(room_id, user_id) };
    },
  );

  app.delete<M>(
    member,
    {
      schema: {
        tags,
        security,
        summary: "Remove a member",
        description:
          "Removes the user as their own leave would: members see `user_left`, and removing either member of a match room ends the match for both. Removing a non-member changes nothing (changed: false). Direct rooms: FORBIDDEN.",
        params: MembershipParams,
        response: {
          200: MembershipBody,
          ...errorResponses("BAD_REQUEST", ...SERVER_AUTH_ERRORS, "ROOM_NOT_FOUND"),
        },
      },
      onRequest,
    },
    async (req) => {
      const { room_id, user_id } = req.params;
      return { room_id, user_id, changed: await rooms.removeAsServer(room_id, user_id) };
    },
  );

  app.post<{ Params: Static<typeof UserParams>; Body: Static<typeof DisconnectBody> }>(
    "/v1/server/users/:user_id/disconnect",
    {
      schema: {
        tags,
        security,
        summary: "Disconnect a user's sockets",
        description:
          "Closes every socket of the user, on every gateway where they are online, with close code 4007 DISCONNECTED (clients do not reconnect on their own). Their tokens stay valid: this ends connections, not sessions.",
        params: UserParams,
        body: DisconnectBody,
        response: {
          202: DisconnectedBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...SERVER_AUTH_ERRORS,
            "USER_NOT_FOUND",
          ),
        },
      },
      onRequest,
      // the body is optional: none is the empty object
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      const userId = req.params.user_id;
      if ((await ctx.store.getUser(userId)) === undefined) {
        throw new ChatError("USER_NOT_FOUND", `no user ${userId}`);
      }
      const gateways = await sessions.disconnect(userId, req.body.reason);
      return reply.status(202).send({ user_id: userId, gateways });
    },
  );
}
