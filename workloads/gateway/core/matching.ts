// Random matching as the gateway sees it: requests, state and cancels of match tickets, for
// REST and WebSocket alike. The queue (shared by every gateway and matcher) makes a request
// idempotent per (user, request id) and keeps at most one pending ticket per user; pairing and
// the handover are the matcher's (workloads/matcher). Choices: docs/decisions/0007-matcher.md.
import type { MatchTicket } from "../../shared/backends/match-queue.ts";
import { ChatError } from "../../shared/errors.ts";
import type { PublicProfile } from "../../shared/events.ts";
import type { GatewayContext } from "./context.ts";

export interface MatchAsk {
  readonly requestId: string;
  readonly tags?: readonly string[] | undefined;
  readonly language?: string | undefined;
}

export class Matching {
  readonly #ctx: GatewayContext;

  constructor(ctx: GatewayContext) {
    this.#ctx = ctx;
  }

  /** The ticket of this request: created once, the same one on every retry (on any gateway). */
  async request(userId: string, ask: MatchAsk): Promise<MatchTicket> {
    const ticket = await this.#ctx.matchQueue.enqueue(
      {
        userId,
        requestId: ask.requestId,
        // interests compare case-insensitively; the order and repeats of tags mean nothing
        tags: [...new Set((ask.tags ?? []).map((t) => t.trim().toLowerCase()))]
          .filter((t) => t !== "")
          .sort(),
        language: ask.language === undefined ? null : ask.language.trim().toLowerCase(),
      },
      Date.now(),
    );
    this.#ctx.metrics.matchRequests.inc({
      op: "request",
      outcome: ticket.requestId === ask.requestId ? ticket.state : "already_pending",
    });
    return ticket;
  }

  /** The user's own ticket; anyone else's is "not found". */
  async get(userId: string, ticketId: string): Promise<MatchTicket> {
    const t = await this.#ctx.matchQueue.getTicket(ticketId);
    if (t === undefined || t.userId !== userId) {
      throw new ChatError("MATCH_TICKET_NOT_FOUND", "no such match ticket");
    }
    return t;
  }

  /** Cancels a pending ticket; cancelling a cancelled one again is fine, a matched one is not. */
  async cancel(userId: string, ticketId: string): Promise<MatchTicket> {
    const cancelled = await this.#ctx.matchQueue.cancel(userId, ticketId);
    const t = await this.get(userId, ticketId);
    if (!cancelled && t.state === "matched") {
      this.#ctx.metrics.matchRequests.inc({ op: "cancel", outcome: "too_late" });
      throw new ChatError(
        "MATCH_ALREADY_MATCHED",
        "the ticket is already matched; leave the match room to end the match",
      );
    }
    this.#ctx.metrics.matchRequests.inc({ op: "cancel", outcome: t.state });
    return t;
  }

  /** Cancels whichever ticket of the user is pending. */
  async cancelPending(userId: string): Promise<MatchTicket> {
    const id = await this.#ctx.matchQueue.cancelUser(userId);
    if (id === undefined) throw new ChatError("MATCH_TICKET_NOT_FOUND", "no pending match ticket");
    this.#ctx.metrics.matchRequests.inc({ op: "cancel", outcome: "cancelled" });
    return this.get(userId, id);
  }

  /** The partner's public profile, for a matched ticket. */
  async partner(ticket: MatchTicket): Promise<PublicProfile | undefined> {
    if (ticket.partnerId === undefined) return undefined;
    const u = await this.#ctx.store.getUser(ticket.partnerId);
    return {
      id: ticket.partnerId,
      username: u?.username ?? ticket.partnerId,
      displayName: u?.displayName ?? u?.username ?? ticket.partnerId,
    };
  }

  /**
   * The user's last socket on this gateway closed: if they have none left on any gateway, they
   * left, and their pending ticket goes (a second tab elsewhere keeps it).
   */
  async disconnected(userId: string): Promise<void> {
    if ((await this.#ctx.registry.gatewaysForUser(userId)).length > 0) return;
    if ((await this.#ctx.matchQueue.cancelUser(userId)) !== undefined) {
      this.#ctx.metrics.matchRequests.inc({ op: "disconnect", outcome: "cancelled" });
    }
  }
}
