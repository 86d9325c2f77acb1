// The matcher: a loop that runs the queue's atomic pairing step, then hands each pair over —
// creates the pair's `match` room (its id is the pair's id) with both as members and tells both
// users through the bus (member joined, then matched; the forwarder routes them to the users'
// gateways). Any number of replicas run the same loop: pairing is one atomic step in the queue,
// and a pair is handed over under a lease, so a replica that dies mid-way leaves its pairs to
// another once the lease expires. A repeated handover writes the same room again and announces
// it again (clients de-duplicate `matched` by ticket id), unless the room already ended. A new
// match ends the users' earlier match rooms, so nobody has two partners at once.
import { context, SpanKind } from "@opentelemetry/api";
import type { Logger } from "#contract/telemetry/log";
import { inSpan, SpanNames, traceHeaders, tracer } from "#contract/telemetry/tracing";
import type { Bus } from "../shared/backends/bus.ts";
import type { MatchPair, MatchQueue } from "../shared/backends/match-queue.ts";
import type { Store } from "../shared/backends/store.ts";
import type { Member, Room } from "../shared/domain.ts";
import { type BusEvent, encode, type PublicProfile } from "../shared/events.ts";
import { endMatchRoom } from "../shared/match-room.ts";
import type { Metrics } from "../shared/telemetry/metrics.ts";

/**
 * new: room created and both told; repeated: a handover done before (by a replica that died
 * before completing) done again; ended: someone left since, nothing to tell; superseded: one
 * of them was matched anew meanwhile, so this match ended at once.
 */
type HandoverOutcome = "new" | "repeated" | "ended" | "superseded";

export interface MatcherSettings {
  /** names this replica in outbox leases */
  readonly workerId: string;
  /** two tickets that both waited this long pair whatever their tags and languages */
  readonly fallbackWaitMs: number;
  /** pause between steps when the last one found nothing to do */
  readonly pairIntervalMs: number;
  /** how long a claimed pair is this replica's before another may take it over */
  readonly leaseMs: number;
  /** how many of the oldest tickets one pairing step looks at */
  readonly scanLimit: number;
  /** pairs handed over at once */
  readonly handoverConcurrency: number;
}

export interface MatcherOptions {
  readonly queue: MatchQueue;
  readonly store: Store;
  readonly bus: Bus;
  readonly topic: string;
  readonly settings: MatcherSettings;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

export class Matcher {
  readonly #o: MatcherOptions;
  readonly #now: () => number;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #ready = false;

  constructor(options: MatcherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** true once a step has succeeded, until stop() */
  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  /** Finishes the step in flight (its handovers complete), then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready = false;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let busy = false;
      try {
        busy = await this.step();
        this.#ready = true;
      } catch (err) {
        this.#o.log.warn({ err }, "matcher step failed; retrying");
      }
      if (!busy && !this.#stopping) await this.#pause(this.#o.settings.pairIntervalMs);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** One pairing step, then every pair in the outbox that is free; true if it did anything. */
  async step(): Promise<boolean> {
    const paired = await this.#pair();
    const handed = await this.#drainOutbox();
    return paired > 0 || handed > 0;
  }

  async #pair(): Promise<number> {
    const { metrics, queue, settings } = this.#o;
    const end = metrics.matchStepSeconds.startTimer({ step: "pair" });
    const startTime = new Date();
    try {
      const pairs = await queue.pair({
        now: this.#now(),
        fallbackWaitMs: settings.fallbackWaitMs,
        maxScan: settings.scanLimit,
      });
      for (const p of pairs) {
        metrics.matches.inc();
        metrics.matchWait.observe(Math.max(0, p.at - p.a.enqueuedAt) / 1000);
        metrics.matchWait.observe(Math.max(0, p.at - p.b.enqueuedAt) / 1000);
      }
      // a span for each step that paired someone (an idle queue would fill traces with nothing)
      if (pairs.length > 0) {
        tracer()
          .startSpan(SpanNames.matchPair, {
            kind: SpanKind.INTERNAL,
            startTime,
            attributes: { "switchboard.pairs": pairs.length },
          })
          .end();
      }
      metrics.matchQueueLength.set(await queue.queueLength());
      return pairs.length;
    } catch (err) {
      metrics.matchErrors.inc({ step: "pair" });
      throw err;
    } finally {
      end();
    }
  }

  async #drainOutbox(): Promise<number> {
    const { queue, settings } = this.#o;
    let handed = 0;
    while (!this.#stopping) {
      const claimed: MatchPair[] = [];
      while (claimed.length < settings.handoverConcurrency) {
        const p = await queue.claimPair(settings.workerId, settings.leaseMs);
        if (p === undefined) break;
        claimed.push(p);
      }
      if (claimed.length === 0) break;
      const results = await Promise.allSettled(claimed.map((p) => this.handover(p)));
      for (const r of results) if (r.status === "fulfilled") handed++;
      // a failed handover stays leased; another pass (here or elsewhere) takes it after the lease
      if (results.some((r) => r.status === "rejected")) break;
    }
    return handed;
  }

  /** Creates the pair's room (once) and tells both users; then removes the pair from the outbox. */
  async handover(pair: MatchPair): Promise<void> {
    const { metrics, queue } = this.#o;
    const end = metrics.matchStepSeconds.startTimer({ step: "handover" });
    try {
      await inSpan(
        SpanNames.matchHandover,
        SpanKind.PRODUCER,
        context.active(),
        { "switchboard.room_id": pair.id },
        async () => {
          let outcome: HandoverOutcome = await this.#ensureRoom(pair);
          if (outcome !== "ended") {
            const { older, newer } = await this.#otherMatches(pair);
            const events: BusEvent[] = [];
            if (newer) {
              // one of them was matched again meanwhile (this handover lagged): the newer wins
              events.push(...(await endMatchRoom(this.#o.store, pair.id, pair.a.userId)));
              outcome = "superseded";
            } else {
              // a new match ends the users' earlier ones: never two partners at once
              for (const { roomId, userId } of older) {
                events.push(...(await endMatchRoom(this.#o.store, roomId, userId)));
              }
              events.push(...(await this.#announcements(pair)));
            }
            await this.#publish(events);
          }
          await queue.completePair(pair);
          metrics.matchHandovers.inc({ outcome });
        },
      );
    } catch (err) {
      metrics.matchErrors.inc({ step: "handover" });
      this.#o.log.warn({ err, pairId: pair.id }, "match handover failed; the lease will free it");
      throw err;
    } finally {
      end();
    }
  }

  async #ensureRoom(pair: MatchPair): Promise<"new" | "repeated" | "ended"> {
    const { store } = this.#o;
    if ((await store.getRoom(pair.id)) !== undefined) {
      // handed over before (a replica died before completing): unless someone left since
      const members = await store.listMembers(pair.id);
      return members.length === 2 ? "repeated" : "ended";
    }
    const at = new Date(pair.at);
    const room: Room = {
      id: pair.id,
      kind: "match",
      name: null,
      createdBy: pair.a.userId,
      createdAt: at,
    };
    const members: Member[] = [pair.a.userId, pair.b.userId].map((userId) => ({
      roomId: pair.id,
      userId,
      role: "member",
      joinedAt: at,
    }));
    await store.createRoom(room, members);
    return "new";
  }

  /** The users' other match rooms: older ones (to end) and whether a newer one exists. */
  async #otherMatches(
    pair: MatchPair,
  ): Promise<{ older: { roomId: string; userId: string }[]; newer: boolean }> {
    const { store } = this.#o;
    const older: { roomId: string; userId: string }[] = [];
    let newer = false;
    for (const userId of [pair.a.userId, pair.b.userId]) {
      const ids = (await store.roomsOfUser(userId)).filter((id) => id !== pair.id);
      const rooms = await Promise.all(ids.map((id) => store.getRoom(id)));
      for (const r of rooms) {
        if (r?.kind !== "match") continue;
        const at = r.createdAt.getTime();
        if (at < pair.at || (at === pair.at && r.id < pair.id))
          older.push({ roomId: r.id, userId });
        else newer = true;
      }
    }
    return { older, newer };
  }

  async #announcements(pair: MatchPair): Promise<BusEvent[]> {
    const { store } = this.#o;
    const [a, b] = await Promise.all([
      profile(store, pair.a.userId),
      profile(store, pair.b.userId),
    ]);
    const roomId = pair.id;
    return [
      { kind: "member", roomId, userId: a.id, change: "joined" },
      { kind: "member", roomId, userId: b.id, change: "joined" },
      { kind: "matched", roomId, userId: a.id, ticketId: pair.a.ticketId, partner: b },
      { kind: "matched", roomId, userId: b.id, ticketId: pair.b.ticketId, partner: a },
    ];
  }

  /** Each event keyed by its room, so it keeps its order with the room's other events. */
  async #publish(events: readonly BusEvent[]): Promise<void> {
    if (events.length === 0) return;
    const headers = traceHeaders();
    await this.#o.bus.publish(
      this.#o.topic,
      events.map((e) => ({ key: e.roomId, value: encode(e), headers })),
    );
  }
}

async function profile(store: Store, userId: string): Promise<PublicProfile> {
  const u = await store.getUser(userId);
  return {
    id: userId,
    username: u?.username ?? userId,
    displayName: u?.displayName ?? u?.username ?? userId,
  };
}
