// /v1/rooms/*, /v1/channels: rooms, membership, history and read positions.
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Room, StoredMessage } from "../../shared/domain.ts";
import { fromStored } from "../../shared/events.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Messages } from "../core/messages.ts";
import type { Rooms } from "../core/rooms.ts";
import { toMessageFrame } from "../ws/hub.ts";
import { AUTH_ERRORS, authenticate, errorResponses } from "./http.ts";
import {
  AddMemberBody,
  ChannelsQuery,
  type ChannelsQueryT,
  CreateRoomBody,
  type CreateRoomBodyT,
  DEFAULT_PAGE,
  HistoryBody,
  HistoryQuery,
  type HistoryQueryT,
  MemberBody,
  ReadBody,
  RoomBody,
  RoomParams,
  RoomSummaryBody,
} from "./schemas.ts";

export const roomJson = (r: Room) => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  created_by: r.createdBy,
  created_at: r.createdAt.toISOString(),
});

/** A stored message as REST answers it: the WebSocket message frame without its type. */
export const messageJson = (m: StoredMessage) => {
  const { type: _t, ...body } = toMessageFrame(fromStored(m)) as ReturnType<
    typeof toMessageFrame
  > & { type: string };
  return body;
};

type P = { Params: Static<typeof RoomParams> };

export function roomRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  rooms: Rooms,
  messages: Messages,
): void {
  const tags = ["rooms"];
  const security = [{ bearer: [] }];
  const preHandler = authenticate(ctx, tokens);

  app.post<{ Body: CreateRoomBodyT }>(
    "/v1/rooms",
    {
      schema: {
        tags,
        security,
        summary: "Create a room",
        description:
          "A group or a public channel (you are its owner, with the members you name), or the direct room between you and another user (created once: asking again returns it).",
        body: CreateRoomBody,
        response: {
          201: RoomBody,
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", ...AUTH_ERRORS, "USER_NOT_FOUND"),
        },
      },
      preHandler,
    },
    async (req, reply) => {
      const b = req.body;
      const room =
        b.kind === "direct"
          ? await rooms.direct(req.userId, b.user_id)
          : await rooms.create(req.userId, b.kind, b.name, b.members ?? []);
      return reply.status(201).send(roomJson(room));
    },
  );

  app.get(
    "/v1/rooms",
    {
      schema: {
        tags,
        security,
        summary: "List my rooms",
        description: "My rooms, most recently active first, with unread counts.",
        response: {
          200: Type.Object({ rooms: Type.Array(RoomSummaryBody) }),
          ...errorResponses(...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) => ({
      rooms: (await rooms.mine(req.userId)).map((s) => ({
        room: roomJson(s.room),
        last_seq: s.lastSeq,
        last_activity: s.lastActivity.toISOString(),
        read_seq: s.readSeq,
        unread: s.unread,
      })),
    }),
  );

  app.get(
    "/v1/channels",
    {
      schema: {
        tags,
        security,
        summary: "List public channels",
        description: "Public channels anyone can join, newest first.",
        querystring: ChannelsQuery,
        response: {
          200: Type.Object({ rooms: Type.Array(RoomBody) }),
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) => {
      const { limit = DEFAULT_PAGE } = req.query as ChannelsQueryT;
      return { rooms: (await ctx.store.listChannels(limit)).map(roomJson) };
    },
  );

  app.get<P>(
    "/v1/rooms/:room_id",
    {
      schema: {
        tags,
        security,
        summary: "Read a room",
        description: "A room I am a member of, or any public channel.",
        params: RoomParams,
        response: {
          200: RoomBody,
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "ROOM_NOT_FOUND", "NOT_A_MEMBER"),
        },
      },
      preHandler,
    },
    async (req) => roomJson(await rooms.get(req.userId, req.params.room_id)),
  );

  app.post<P>(
    "/v1/rooms/:room_id/join",
    {
      schema: {
        tags,
        security,
        summary: "Join a public channel",
        description:
          "Joins a public channel (joining again changes nothing). A group or direct room cannot be joined: a member adds you (FORBIDDEN).",
        params: RoomParams,
        response: {
          200: RoomBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "FORBIDDEN",
          ),
        },
      },
      preHandler,
    },
    async (req) => roomJson(await rooms.join(req.userId, req.params.room_id)),
  );

  app.post<P>(
    "/v1/rooms/:room_id/leave",
    {
      schema: {
        tags,
        security,
        summary: "Leave a room",
        description:
          "Leaves a group or a channel; leaving a match room ends the match for both. A direct room cannot be left (FORBIDDEN); leaving a room you are not in is NOT_A_MEMBER.",
        params: RoomParams,
        response: {
          204: { description: "Left", type: "null" },
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "NOT_A_MEMBER",
            "FORBIDDEN",
          ),
        },
      },
      preHandler,
    },
    async (req, reply) => {
      await rooms.leave(req.userId, req.params.room_id);
      return reply.status(204).send();
    },
  );

  app.get<P>(
    "/v1/rooms/:room_id/members",
    {
      schema: {
        tags,
        security,
        summary: "List a room's members",
        description: "Who is in the room and who is online; for members only.",
        params: RoomParams,
        response: {
          200: Type.Object({ members: Type.Array(MemberBody) }),
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "ROOM_NOT_FOUND", "NOT_A_MEMBER"),
        },
      },
      preHandler,
    },
    async (req) => ({
      members: (await rooms.members(req.userId, req.params.room_id)).map(({ member, online }) => ({
        user_id: member.userId,
        role: member.role,
        joined_at: member.joinedAt.toISOString(),
        online,
      })),
    }),
  );

  app.post<P & { Body: Static<typeof AddMemberBody> }>(
    "/v1/rooms/:room_id/members",
    {
      schema: {
        tags,
        security,
        summary: "Add a member",
        description:
          "A member adds a user to a group or a channel; members see `user_joined`. The user must not be a member yet (ALREADY_MEMBER).",
        params: RoomParams,
        body: AddMemberBody,
        response: {
          204: { description: "Added", type: "null" },
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "NOT_A_MEMBER",
            "FORBIDDEN",
            "USER_NOT_FOUND",
            "ALREADY_MEMBER",
          ),
        },
      },
      preHandler,
    },
    async (req, reply) => {
      await rooms.addMember(req.userId, req.params.room_id, req.body.user_id);
      return reply.status(204).send();
    },
  );

  app.get<P & { Querystring: HistoryQueryT }>(
    "/v1/rooms/:room_id/messages",
    {
      schema: {
        tags,
        security,
        summary: "Read a room's history",
        description:
          "History, oldest first within the page. Without a cursor: the newest page. `before`: the page ending right before that seq. `after`: the page starting right after it.",
        params: RoomParams,
        querystring: HistoryQuery,
        response: {
          200: HistoryBody,
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "ROOM_NOT_FOUND", "NOT_A_MEMBER"),
        },
      },
      preHandler,
    },
    async (req) => {
      const roomId = req.params.room_id;
      await rooms.requireMember(req.userId, roomId);
      const { limit = DEFAULT_PAGE, before, after } = req.query;
      const page = await messages.history(roomId, {
        limit,
        ...(before === undefined ? {} : { before }),
        ...(after === undefined ? {} : { after }),
      });
      const first = page[0];
      const last = page.at(-1);
      return {
        messages: page.map(messageJson),
        ...(first !== undefined && first.seq > 1 ? { next_before: first.seq } : {}),
        ...(last !== undefined && page.length === limit ? { next_after: last.seq } : {}),
      };
    },
  );

  app.put<P & { Body: Static<typeof ReadBody> }>(
    "/v1/rooms/:room_id/read",
    {
      schema: {
        tags,
        security,
        summary: "Mark a room read",
        description:
          "Marks the room read up to seq (never moves back; a seq beyond the last message is BAD_REQUEST); members see a `seen` frame.",
        params: RoomParams,
        body: ReadBody,
        response: {
          202: Type.Object({ room_id: Type.String(), seq: Type.Integer() }),
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "ROOM_NOT_FOUND",
            "NOT_A_MEMBER",
          ),
        },
      },
      preHandler,
    },
    async (req, reply) => {
      await rooms.requireMember(req.userId, req.params.room_id);
      await messages.markSeen(req.userId, req.params.room_id, req.body.seq);
      return reply.status(202).send({ room_id: req.params.room_id, seq: req.body.seq });
    },
  );
}
