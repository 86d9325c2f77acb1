// MatchQueue in memory: the same semantics as the Redis adapter, for the embedded default.
import { randomUUID } from "node:crypto";
import {
  type MatchPair,
  type MatchQueue,
  type MatchRequest,
  type MatchTicket,
  mayPair,
  type PairOptions,
} from "./match-queue.ts";

export class MemoryMatchQueue implements MatchQueue {
  readonly #tickets = new Map<string, MatchTicket>();
  readonly #byRequest = new Map<string, string>();
  readonly #pendingOfUser = new Map<string, string>();
  /** pending ticket ids, oldest first */
  #queue: string[] = [];
  readonly #outbox: MatchPair[] = [];
  readonly #leases = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async enqueue(r: MatchRequest, now: number): Promise<MatchTicket> {
    const reqKey = `${r.userId}\0${r.requestId}`;
    const known = this.#byRequest.get(reqKey) ?? this.#pendingOfUser.get(r.userId);
    if (known !== undefined) {
      this.#byRequest.set(reqKey, known);
      return { ...(this.#tickets.get(known) as MatchTicket) };
    }
    const ticket: MatchTicket = {
      id: randomUUID(),
      userId: r.userId,
      requestId: r.requestId,
      state: "pending",
      tags: [...r.tags],
      language: r.language,
      enqueuedAt: now,
    };
    this.#tickets.set(ticket.id, ticket);
    this.#byRequest.set(reqKey, ticket.id);
    this.#pendingOfUser.set(r.userId, ticket.id);
    this.#queue.push(ticket.id);
    return { ...ticket };
  }

  async getTicket(ticketId: string): Promise<MatchTicket | undefined> {
    const t = this.#tickets.get(ticketId);
    return t === undefined ? undefined : { ...t };
  }

  async cancel(userId: string, ticketId: string): Promise<boolean> {
    const t = this.#tickets.get(ticketId);
    if (t === undefined || t.userId !== userId || t.state !== "pending") return false;
    this.#tickets.set(ticketId, { ...t, state: "cancelled" });
    this.#queue = this.#queue.filter((id) => id !== ticketId);
    if (this.#pendingOfUser.get(userId) === ticketId) this.#pendingOfUser.delete(userId);
    return true;
  }

  async cancelUser(userId: string): Promise<string | undefined> {
    const id = this.#pendingOfUser.get(userId);
    return id !== undefined && (await this.cancel(userId, id)) ? id : undefined;
  }

  async pair(o: PairOptions): Promise<MatchPair[]> {
    const scan = this.#queue.slice(0, o.maxScan).map((id) => this.#tickets.get(id) as MatchTicket);
    const used = new Set<number>();
    const pairs: MatchPair[] = [];
    for (let i = 0; i < scan.length; i++) {
      if (used.has(i)) continue;
      const t = scan[i] as MatchTicket;
      for (let j = i + 1; j < scan.length; j++) {
        const u = scan[j] as MatchTicket;
        if (used.has(j) || u.userId === t.userId) continue;
        if (!mayPair(t, u, o)) continue;
        used.add(i);
        used.add(j);
        const id = randomUUID();
        for (const [x, y] of [
          [t, u],
          [u, t],
        ] as const) {
          this.#tickets.set(x.id, {
            ...x,
            state: "matched",
            roomId: id,
            partnerId: y.userId,
            matchedAt: o.now,
          });
          this.#pendingOfUser.delete(x.userId);
        }
        const pair: MatchPair = {
          id,
          a: { ticketId: t.id, userId: t.userId, enqueuedAt: t.enqueuedAt },
          b: { ticketId: u.id, userId: u.userId, enqueuedAt: u.enqueuedAt },
          at: o.now,
        };
        pairs.push(pair);
        this.#outbox.push(pair);
        break;
      }
    }
    const paired = new Set(pairs.flatMap((p) => [p.a.ticketId, p.b.ticketId]));
    this.#queue = this.#queue.filter((id) => !paired.has(id));
    return pairs;
  }

  async claimPair(_workerId: string, leaseMs: number): Promise<MatchPair | undefined> {
    const now = this.#now();
    for (const p of this.#outbox) {
      const lease = this.#leases.get(p.id);
      if (lease !== undefined && lease > now) continue;
      this.#leases.set(p.id, now + leaseMs);
      return p;
    }
    return undefined;
  }

  async completePair(pair: MatchPair): Promise<void> {
    const i = this.#outbox.findIndex((p) => p.id === pair.id);
    if (i >= 0) this.#outbox.splice(i, 1);
    this.#leases.delete(pair.id);
  }

  async queueLength(): Promise<number> {
    return this.#queue.length;
  }

  /** In-process: always reachable. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
