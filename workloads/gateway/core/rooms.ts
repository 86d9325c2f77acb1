// Rooms and membership: the rules every REST route and WebSocket frame goes through.
//   direct  — exactly two members, one per pair of users, created on first use; no join/leave
//   group   — private: members are added by a member; anyone in it may leave
//   channel — public: anyone may find and join it
//   match   — created by the matcher for a pair of strangers; leaving ends it for both

import { traceHeaders } from "#contract/telemetry/tracing";
import type { Member, Room, RoomKind } from "../../shared/domain.ts";
import { ChatError } from "../../shared/errors.ts";
import { type BusEvent, encode } from "../../shared/events.ts";
import { newId } from "../../shared/ids.ts";
import { endMatchRoom } from "../../shared/match-room.ts";
import { SYSTEM_SENDER } from "../../shared/protocol/frames.ts";
import type { GatewayContext } from "./context.ts";

export interface RoomSummary {
  readonly room: Room;
  readonly lastSeq: number;
  readonly lastActivity: Date;
  readonly readSeq: number;
  readonly unread: number;
}

export class Rooms {
  readonly #ctx: GatewayContext;

  constructor(ctx: GatewayContext) {
    this.#ctx = ctx;
  }

  async create(
    creatorId: string,
    kind: Exclude<RoomKind, "direct" | "match">,
    name: string,
    memberIds: readonly string[],
  ): Promise<Room> {
    return this.#createRoom(creatorId, kind, name, creatorId, memberIds);
  }

  /**
   * A room the server API creates: created by `system`, with the owner (if one is named) and the
   * members it names, every one of them a user.
   */
  async createAsServer(
    kind: Exclude<RoomKind, "direct" | "match">,
    name: string,
    ownerId: string | undefined,
    memberIds: readonly string[],
  ): Promise<Room> {
    if (ownerId !== undefined) await this.#requireUser(ownerId);
    return this.#createRoom(SYSTEM_SENDER, kind, name, ownerId, memberIds);
  }

  async #createRoom(
    createdBy: string,
    kind: Exclude<RoomKind, "direct" | "match">,
    name: string,
    ownerId: string | undefined,
    memberIds: readonly string[],
  ): Promise<Room> {
    const unique = [...new Set(memberIds.filter((id) => id !== ownerId))];
    if (unique.length + (ownerId === undefined ? 0 : 1) > this.#ctx.limits.maxRoomMembers) {
      throw new ChatError(
        "BAD_REQUEST",
        `a room holds at most ${this.#ctx.limits.maxRoomMembers} members`,
      );
    }
    for (const id of unique) await this.#requireUser(id);
    const now = new Date();
    const room: Room = { id: newId(), kind, name, createdBy, createdAt: now };
    const members: Member[] = [
      ...(ownerId === undefined
        ? []
        : [{ roomId: room.id, userId: ownerId, role: "owner" as const, joinedAt: now }]),
      ...unique.map(
        (userId): Member => ({ roomId: room.id, userId, role: "member", joinedAt: now }),
      ),
    ];
    await this.#ctx.store.createRoom(room, members);
    await this.#announce(
      members.map((m) => ({ kind: "member", roomId: room.id, userId: m.userId, change: "joined" })),
    );
    return room;
  }

  /** The direct room between two users, created (with both as members) if absent. */
  async direct(userId: string, otherId: string): Promise<Room> {
    if (userId === otherId)
      throw new ChatError("BAD_REQUEST", "a direct room needs two different users");
    await this.#requireUser(otherId);
    const [a, b] = userId < otherId ? [userId, otherId] : [otherId, userId];
    const candidate: Room = {
      id: newId(),
      kind: "direct",
      name: null,
      createdBy: userId,
      createdAt: new Date(),
    };
    const room = await this.#ctx.store.ensureDirectRoom(candidate, a, b);
    if (room.id === candidate.id) {
      await this.#announce([
        { kind: "member", roomId: room.id, userId: a, change: "joined" },
        { kind: "member", roomId: room.id, userId: b, change: "joined" },
      ]);
    }
    return room;
  }

  /** The room, if the user may see it (members; anyone for a channel). */
  async get(userId: string, roomId: string): Promise<Room> {
    const room = await this.#ctx.store.getRoom(roomId);
    if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
    if (room.kind !== "channel") await this.requireMember(userId, roomId);
    return room;
  }

  async requireMember(userId: string, roomId: string): Promise<Member> {
    const m = await this.#ctx.store.getMember(roomId, userId);
    if (m === undefined) {
      const room = await this.#ctx.store.getRoom(roomId);
      if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
      throw new ChatError("NOT_A_MEMBER", "you are not a member of this room");
    }
    return m;
  }

  async join(userId: string, roomId: string, requestId?: string): Promise<Room> {
    const room = await this.#ctx.store.getRoom(roomId);
    if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
    if (room.kind !== "channel") {
      if (await this.#ctx.store.getMember(roomId, userId)) return room;
      throw new ChatError(
        "FORBIDDEN",
        `a ${room.kind} room cannot be joined; a member must add you`,
      );
    }
    if (await this.#ctx.store.addMember(roomId, userId, "member", new Date())) {
      await this.#announce([
        { kind: "member", roomId, userId, change: "joined", ...(requestId ? { requestId } : {}) },
      ]);
    }
    return room;
  }

  /** A member adds another user to a group (or a channel); ALREADY_MEMBER if they are in it. */
  async addMember(actorId: string, roomId: string, userId: string): Promise<void> {
    const room = await this.get(actorId, roomId);
    await this.requireMember(actorId, roomId);
    if (room.kind !== "group" && room.kind !== "channel") {
      throw new ChatError("FORBIDDEN", `members cannot be added to a ${room.kind} room`);
    }
    await this.#requireUser(userId);
    const members = await this.#ctx.store.listMembers(roomId);
    if (members.some((m) => m.userId === userId)) {
      throw new ChatError("ALREADY_MEMBER", "that user is a member of the room already");
    }
    if (members.length >= this.#ctx.limits.maxRoomMembers) {
      throw new ChatError(
        "BAD_REQUEST",
        `a room holds at most ${this.#ctx.limits.maxRoomMembers} members`,
      );
    }
    if (!(await this.#ctx.store.addMember(roomId, userId, "member", new Date()))) {
      throw new ChatError("ALREADY_MEMBER", "that user is a member of the room already");
    }
    await this.#announce([{ kind: "member", roomId, userId, change: "joined" }]);
  }

  /** Only a member leaves (NOT_A_MEMBER otherwise, whatever the room); never a direct room. */
  async leave(userId: string, roomId: string, requestId?: string): Promise<void> {
    const room = await this.#ctx.store.getRoom(roomId);
    if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
    await this.requireMember(userId, roomId);
    if (room.kind === "direct") throw new ChatError("FORBIDDEN", "a direct room cannot be left");
    const events: BusEvent[] = [];
    if (room.kind === "match") {
      // leaving a match ends it for both
      events.push(...(await endMatchRoom(this.#ctx.store, roomId, userId, requestId)));
    } else if (await this.#ctx.store.removeMember(roomId, userId)) {
      events.push({
        kind: "member",
        roomId,
        userId,
        change: "left",
        ...(requestId ? { requestId } : {}),
      });
    }
    await this.#announce(events);
  }

  /**
   * The server API adds a user to a group or a channel: true when added, false when they were a
   * member already (a retry changes nothing).
   */
  async addAsServer(roomId: string, userId: string): Promise<boolean> {
    const room = await this.#ctx.store.getRoom(roomId);
    if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
    if (room.kind !== "group" && room.kind !== "channel") {
      throw new ChatError("FORBIDDEN", `members cannot be added to a ${room.kind} room`);
    }
    await this.#requireUser(userId);
    if ((await this.#ctx.store.getMember(roomId, userId)) !== undefined) return false;
    const members = await this.#ctx.store.listMembers(roomId);
    if (members.length >= this.#ctx.limits.maxRoomMembers) {
      throw new ChatError(
        "BAD_REQUEST",
        `a room holds at most ${this.#ctx.limits.maxRoomMembers} members`,
      );
    }
    if (!(await this.#ctx.store.addMember(roomId, userId, "member", new Date()))) return false;
    await this.#announce([{ kind: "member", roomId, userId, change: "joined" }]);
    return true;
  }

  /**
   * The server API removes a member, as their own leave would (a match ends for both; a direct
   * room is FORBIDDEN): true when removed, false when they were not a member (a retry).
   */
  async removeAsServer(roomId: string, userId: string): Promise<boolean> {
    const room = await this.#ctx.store.getRoom(roomId);
    if (room === undefined) throw new ChatError("ROOM_NOT_FOUND", "no such room");
    if (room.kind === "direct") {
      throw new ChatError("FORBIDDEN", "nobody can be removed from a direct room");
    }
    try {
      await this.leave(userId, roomId);
      return true;
    } catch (err) {
      if (err instanceof ChatError && err.code === "NOT_A_MEMBER") return false;
      throw err;
    }
  }

  /** Who is in the room and online: for its members only, as the WebSocket `presence` is. */
  async members(userId: string, roomId: string): Promise<{ member: Member; online: boolean }[]> {
    await this.requireMember(userId, roomId);
    const members = await this.#ctx.store.listMembers(roomId);
    const online = await this.#ctx.registry.onlineUsers(members.map((m) => m.userId));
    return members.map((member) => ({ member, online: online.has(member.userId) }));
  }

  /** The user's rooms, most recently active first, with unread counts. */
  async mine(userId: string): Promise<RoomSummary[]> {
    const ids = await this.#ctx.store.roomsOfUser(userId);
    if (ids.length === 0) return [];
    const [rooms, states, reads] = await Promise.all([
      Promise.all(ids.map((id) => this.#ctx.store.getRoom(id))),
      this.#ctx.store.roomStates(ids),
      this.#ctx.store.readPositions(userId, ids),
    ]);
    const out: RoomSummary[] = [];
    for (const room of rooms) {
      if (room === undefined) continue;
      const state = states.get(room.id);
      const lastSeq = state?.lastSeq ?? 0;
      const readSeq = Math.min(reads.get(room.id)?.seq ?? 0, lastSeq);
      out.push({
        room,
        lastSeq,
        lastActivity: state?.lastActivity ?? room.createdAt,
        readSeq,
        unread: lastSeq - readSeq,
      });
    }
    return out.sort((x, y) => y.lastActivity.getTime() - x.lastActivity.getTime());
  }

  async #requireUser(userId: string): Promise<void> {
    if ((await this.#ctx.store.getUser(userId)) === undefined) {
      throw new ChatError("USER_NOT_FOUND", `no user ${userId}`);
    }
  }

  /** Membership changes go through the bus, so they keep their order with the room's messages. */
  async #announce(events: readonly BusEvent[]): Promise<void> {
    if (events.length === 0) return;
    const headers = traceHeaders();
    await this.#ctx.bus.publish(
      this.#ctx.topic,
      events.map((e) => ({ key: e.roomId, value: encode(e), headers })),
    );
  }
}
