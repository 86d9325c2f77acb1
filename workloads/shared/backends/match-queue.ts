// MatchQueue: the waiting room of random-stranger matching. Tickets are idempotent per
// (user, request id); a user holds at most one pending ticket; pairing is one atomic step, so
// any number of matcher replicas can run it at once without a double match. Pairs go to an
// outbox that a matcher drains (creating the room and telling both users) under a lease, so a
// matcher that dies mid-way leaves the pair for another. Redis in production, memory in the
// embedded default; both pass match-queue.contract.ts.

export type TicketState = "pending" | "matched" | "cancelled";

export interface MatchTicket {
  readonly id: string;
  readonly userId: string;
  readonly requestId: string;
  readonly state: TicketState;
  readonly tags: readonly string[];
  readonly language: string | null;
  readonly enqueuedAt: number;
  /** when matched: the match room (its id is the pair's id) and the partner */
  readonly roomId?: string;
  readonly partnerId?: string;
  readonly matchedAt?: number;
}

export interface MatchRequest {
  readonly userId: string;
  readonly requestId: string;
  readonly tags: readonly string[];
  readonly language: string | null;
}

export interface MatchPair {
  /** also the id of the match room */
  readonly id: string;
  readonly a: { readonly ticketId: string; readonly userId: string; readonly enqueuedAt: number };
  readonly b: { readonly ticketId: string; readonly userId: string; readonly enqueuedAt: number };
  readonly at: number;
}

export interface PairOptions {
  readonly now: number;
  /** two tickets that have both waited this long pair whatever their tags and languages */
  readonly fallbackWaitMs: number;
  /** how many of the oldest tickets one pairing step looks at */
  readonly maxScan: number;
}

export interface MatchQueue {
  /** The ticket for this (user, request id): created once, the same one on every retry. */
  enqueue(request: MatchRequest, now: number): Promise<MatchTicket>;
  getTicket(ticketId: string): Promise<MatchTicket | undefined>;
  /** Cancels the user's pending ticket; false if it is not pending (or not theirs). */
  cancel(userId: string, ticketId: string): Promise<boolean>;
  /** Cancels whatever pending ticket the user has (they disconnected); its id, if there was one. */
  cancelUser(userId: string): Promise<string | undefined>;
  /** Pairs waiting tickets, oldest first, in one atomic step. */
  pair(options: PairOptions): Promise<MatchPair[]>;
  /** Takes a pair from the outbox under a lease; undefined when none is free. */
  claimPair(workerId: string, leaseMs: number): Promise<MatchPair | undefined>;
  /** Removes a handled pair from the outbox. */
  completePair(pair: MatchPair): Promise<void>;
  queueLength(): Promise<number>;
  /** Resolves while the backend can serve now; rejects saying why (bounded in time). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Tags and language agree, or one side did not ask. */
export function compatible(
  x: { tags: readonly string[]; language: string | null },
  y: { tags: readonly string[]; language: string | null },
): boolean {
  if (x.language !== null && y.language !== null && x.language !== y.language) return false;
  if (x.tags.length === 0 || y.tags.length === 0) return true;
  return x.tags.some((t) => y.tags.includes(t));
}

/** Whether two waiting tickets may pair now: compatible, or both waited out the fallback. */
export function mayPair(
  x: { tags: readonly string[]; language: string | null; enqueuedAt: number },
  y: { tags: readonly string[]; language: string | null; enqueuedAt: number },
  o: { now: number; fallbackWaitMs: number },
): boolean {
  const bothWaited =
    o.now - x.enqueuedAt >= o.fallbackWaitMs && o.now - y.enqueuedAt >= o.fallbackWaitMs;
  return bothWaited || compatible(x, y);
}
