// /v1/match: random matching over REST — request a match (idempotent per request_id), read a
// ticket's state, cancel it. The same tickets as the WebSocket `match` / `match_cancel` frames.
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { MatchTicket } from "../../shared/backends/match-queue.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { GatewayContext } from "../core/context.ts";
import type { Matching } from "../core/matching.ts";
import { AUTH_ERRORS, authenticate, errorResponses } from "./http.ts";
import { MatchBody, type MatchBodyT, TicketBody, TicketParams } from "./schemas.ts";

async function ticketJson(matching: Matching, t: MatchTicket) {
  const partner = await matching.partner(t);
  return {
    id: t.id,
    request_id: t.requestId,
    state: t.state,
    tags: [...t.tags],
    language: t.language,
    requested_at: new Date(t.enqueuedAt).toISOString(),
    ...(t.roomId === undefined ? {} : { room_id: t.roomId }),
    ...(t.matchedAt === undefined ? {} : { matched_at: new Date(t.matchedAt).toISOString() }),
    ...(partner === undefined
      ? {}
      : {
          partner: {
            id: partner.id,
            username: partner.username,
            display_name: partner.displayName,
          },
        }),
  };
}

type P = { Params: Static<typeof TicketParams> };

export function matchRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  tokens: Tokens,
  matching: Matching,
): void {
  const tags = ["match"];
  const security = [{ bearer: [] }];
  const preHandler = authenticate(ctx, tokens);

  app.post<{ Body: MatchBodyT }>(
    "/v1/match",
    {
      schema: {
        tags,
        security,
        summary: "Ask for a match",
        description:
          "Asks to be matched with a random stranger: one who shares a tag and speaks the same language first (a side that gives no tags or no language accepts any), anyone once both have waited the fallback time. Idempotent: the same request_id returns the same ticket, on any gateway; while a ticket is pending, any request returns it. The match arrives as a `matched` WebSocket frame, or poll GET /v1/match/{ticket_id}.",
        body: MatchBody,
        response: {
          200: TicketBody,
          ...errorResponses("BAD_REQUEST", "FRAME_TOO_LARGE", ...AUTH_ERRORS),
        },
      },
      preHandler,
    },
    async (req) =>
      ticketJson(
        matching,
        await matching.request(req.userId, {
          requestId: req.body.request_id,
          tags: req.body.tags,
          language: req.body.language,
        }),
      ),
  );

  app.get<P>(
    "/v1/match/:ticket_id",
    {
      schema: {
        tags,
        security,
        summary: "Read a match ticket",
        description: "The state of one of my match tickets; when matched, the room and partner.",
        params: TicketParams,
        response: {
          200: TicketBody,
          ...errorResponses("BAD_REQUEST", ...AUTH_ERRORS, "MATCH_TICKET_NOT_FOUND"),
        },
      },
      preHandler,
    },
    async (req) => ticketJson(matching, await matching.get(req.userId, req.params.ticket_id)),
  );

  app.delete<P>(
    "/v1/match/:ticket_id",
    {
      schema: {
        tags,
        security,
        summary: "Cancel a match ticket",
        description:
          "Cancels a pending match ticket (again: no change). A matched ticket answers 409 MATCH_ALREADY_MATCHED: leave the match room to end the match.",
        params: TicketParams,
        response: {
          200: TicketBody,
          ...errorResponses(
            "BAD_REQUEST",
            "FRAME_TOO_LARGE",
            ...AUTH_ERRORS,
            "MATCH_TICKET_NOT_FOUND",
            "MATCH_ALREADY_MATCHED",
          ),
        },
      },
      preHandler,
    },
    async (req) => ticketJson(matching, await matching.cancel(req.userId, req.params.ticket_id)),
  );
}
