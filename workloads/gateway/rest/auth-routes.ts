// /v1/auth/*, /v1/me and /v1/users.
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { User } from "../../shared/domain.ts";
import { ChatError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import { hashPassword, type KdfParams, verifyPassword } from "../auth/passwords.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import { AUTH_ERRORS, authenticate, errorResponses, limitByAddress } from "./http.ts";
import {
  AuthBody,
  LoginBody,
  type LoginBodyT,
  LogoutBody,
  type LogoutBodyT,
  PublicUserBody,
  RefreshBody,
  type RefreshBodyT,
  RegisterBody,
  type RegisterBodyT,
  TokenPairBody,
  UserBody,
  UsersQuery,
  type UsersQueryT,
} from "./schemas.ts";

/** A user as they see themselves (their email included). */
export const userJson = (u: User) => ({
  id: u.id,
  username: u.username,
  display_name: u.displayName,
  created_at: u.createdAt.toISOString(),
  ...(u.email === undefined ? {} : { email: u.email }),
});

/** A fixed hash to verify against when the user does not exist, so timing does not tell. */
let dummyHash: Promise<string> | undefined;

export function authRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  kdf: KdfParams,
): void {
  const tags = ["auth"];
  const anon = limitByAddress(ctx);

  app.post<{ Body: RegisterBodyT }>(
    "/v1/auth/register",
    {
      schema: {
        tags,
        summary: "Register a user",
        description:
          "Creates the user and logs them in: the answer holds an access and a refresh token (a new session). Limited per client address.",
        body: RegisterBody,
        response: {
          201: { description: "The user and the tokens of a new session", ...AuthBody },
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", "USERNAME_TAKEN"),
        },
      },
      preHandler: anon,
    },
    async (req, reply) => {
      const { username, password, email } = req.body;
      const user: User = {
        id: newId(),
        username: username.toLowerCase(),
        displayName: req.body.display_name ?? username,
        passwordHash: await hashPassword(password, kdf),
        createdAt: new Date(),
        ...(email === undefined ? {} : { email: email.toLowerCase() }),
      };
      if (!(await ctx.store.createUser(user)))
        throw new ChatError("USERNAME_TAKEN", "that username is taken");
      const pair = await tokens.issue(user.id, user.username);
      return reply.status(201).send({ user: userJson(user), tokens: pair });
    },
  );

  app.post<{ Body: LoginBodyT }>(
    "/v1/auth/login",
    {
      schema: {
        tags,
        summary: "Log in",
        description: "Checks the password and starts a new session. Limited per client address.",
        body: LoginBody,
        response: {
          200: { description: "The user and the tokens of a new session", ...AuthBody },
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", "INVALID_CREDENTIALS"),
        },
      },
      preHandler: anon,
    },
    async (req) => {
      const user = await ctx.store.getUserByName(req.body.username.toLowerCase());
      // an account made by single sign-on has no password: refused like an unknown name
      if (user === undefined || user.passwordHash === "") {
        dummyHash ??= hashPassword("not a password", kdf);
        await verifyPassword(req.body.password, await dummyHash);
        throw new ChatError("INVALID_CREDENTIALS", "wrong username or password");
      }
      if (!(await verifyPassword(req.body.password, user.passwordHash))) {
        throw new ChatError("INVALID_CREDENTIALS", "wrong username or password");
      }
      return { user: userJson(user), tokens: await tokens.issue(user.id, user.username) };
    },
  );

  app.post<{ Body: RefreshBodyT }>(
    "/v1/auth/refresh",
    {
      schema: {
        tags,
        summary: "Rotate the refresh token",
        description:
          "Consumes the refresh token and returns a new pair of the same session. A refresh token used twice revokes the session (REFRESH_TOKEN_REUSED). Limited per client address.",
        body: RefreshBody,
        response: {
          200: TokenPairBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            "UNAUTHENTICATED",
            "TOKEN_EXPIRED",
            "REFRESH_TOKEN_REUSED",
          ),
        },
      },
      preHandler: anon,
    },
    async (req) => tokens.refresh(req.body.refresh_token),
  );

  app.post<{ Body: LogoutBodyT }>(
    "/v1/auth/logout",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "Log out",
        description:
          "Ends the bearer token's session (and the refresh token's, if one of yours is given): its refresh and access tokens are refused from then on, on every gateway within 2 s, and its open sockets are closed with 4005 SESSION_REVOKED.",
        body: LogoutBody,
        response: {
          204: { description: "Logged out", type: "null" },
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", ...AUTH_ERRORS),
        },
      },
      // the body is optional: none is the empty object
      preValidation: async (req) => {
        req.body ??= {};
      },
      preHandler: authenticate(ctx, tokens),
    },
    async (req, reply) => {
      await tokens.logout(
        { userId: req.userId, username: req.username, sessionId: req.sessionId },
        req.body.refresh_token,
      );
      return reply.status(204).send();
    },
  );

  app.get(
    "/v1/me",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "Who am I",
        description: "The bearer token's user.",
        response: { 200: UserBody, ...errorResponses(...AUTH_ERRORS, "USER_NOT_FOUND") },
      },
      preHandler: authenticate(ctx, tokens),
    },
    async (req) => {
      const user = await ctx.store.getUser(req.userId);
      if (user === undefined)
        throw new ChatError("USER_NOT_FOUND", "the token's user no longer exists");
      return userJson(user);
    },
  );

  app.get<{ Querystring: UsersQueryT }>(
    "/v1/users",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "Look people up by id",
        description:
          "The public profile (username and display name) of each user id asked for; ids of no user are left out. Rooms, members and messages carry user ids: this gives the names to show beside them.",
        querystring: UsersQuery,
        response: {
          200: Type.Object({ users: Type.Array(PublicUserBody) }),
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS),
        },
      },
      preHandler: authenticate(ctx, tokens),
    },
    async (req) => {
      const ids = [...new Set(req.query.ids.toLowerCase().split(","))];
      const found = await Promise.all(ids.map((id) => ctx.store.getUser(id)));
      return {
        users: found
          .filter((u) => u !== undefined)
          .map((u) => ({ id: u.id, username: u.username, display_name: u.displayName })),
      };
    },
  );
}
