// Shared REST plumbing: the error format, bearer authentication and the per-user rate limit.
import type {} from "@fastify/swagger";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { asChatError, ChatError, type ErrorCode, ErrorCodes } from "../../shared/errors.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import { takeToken } from "../core/rate.ts";

declare module "fastify" {
  interface FastifyRequest {
    userId: string;
    username: string;
    /** the login session of the bearer token */
    sessionId: string;
  }
}

export function installErrorHandler(app: FastifyInstance, ctx: GatewayContext): void {
  app.setErrorHandler((err: FastifyError | ChatError, req, reply) => {
    let e: ChatError;
    if (err instanceof ChatError) e = err;
    else if ((err as FastifyError).validation !== undefined)
      e = new ChatError("BAD_REQUEST", err.message);
    else if ((err as FastifyError).statusCode === 413)
      e = new ChatError("FRAME_TOO_LARGE", "request body too large");
    else if (
      (err as FastifyError).statusCode !== undefined &&
      ((err as FastifyError).statusCode ?? 500) < 500
    ) {
      e = new ChatError("BAD_REQUEST", err.message);
    } else {
      req.log.error({ err }, "request failed");
      e = asChatError(err);
    }
    ctx.metrics.errors.inc({ code: e.code });
    if (e.retryAfterMs !== undefined) reply.header("retry-after", Math.ceil(e.retryAfterMs / 1000));
    return reply.status(e.status).send({
      error: {
        code: e.code,
        message: e.message,
        ...(e.retryAfterMs === undefined ? {} : { retry_after_ms: Math.ceil(e.retryAfterMs) }),
      },
    });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such route" } }),
  );
}

/** preHandler: a valid access token, then one token from the user's shared bucket. */
export function authenticate(ctx: GatewayContext, tokens: Tokens) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith("Bearer ")) {
      throw new ChatError("UNAUTHENTICATED", "send Authorization: Bearer <access token>");
    }
    const claims = await tokens.verifyAccess(header.slice(7));
    req.userId = claims.userId;
    req.username = claims.username;
    req.sessionId = claims.sessionId;
    await takeToken(ctx, `user:${claims.userId}`, ctx.limits.userRate);
  };
}

/** Anonymous endpoints (register, login, refresh) are limited per client address. */
export function limitByAddress(ctx: GatewayContext) {
  return async (req: FastifyRequest): Promise<void> => {
    await takeToken(ctx, `ip:${req.ip}`, ctx.limits.anonymousRate);
  };
}

/** The codes of an authenticated route that refuses its bearer token. */
export const AUTH_ERRORS = ["UNAUTHENTICATED", "TOKEN_EXPIRED", "SESSION_REVOKED"] as const;

/**
 * The documented error answers of a route, for its OpenAPI `responses`: one per HTTP status,
 * each naming the codes it carries. Every route may also answer RATE_LIMITED, UNAVAILABLE and
 * INTERNAL.
 */
export function errorResponses(
  ...codes: readonly ErrorCode[]
): Record<number, { description: string; $ref: string }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set<ErrorCode>([...codes, "RATE_LIMITED", "UNAVAILABLE", "INTERNAL"])) {
    const status = ErrorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, { description: string; $ref: string }> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = { description: `Error: ${list.join(", ")}`, $ref: "Error#" };
  }
  return out;
}
