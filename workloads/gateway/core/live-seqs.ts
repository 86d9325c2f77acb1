// The highest seq this gateway has seen delivered live, per room. The forwarder routes (acks) a
// message before its write is stored (docs/decisions/0024), so the store may lag an ack by one
// write. Reads that must include what was acked here — a history page, a read position — wait
// for the store to reach this seq, bounded, so a client reads its own writes on its gateway.

/** Rooms remembered; the least recently delivered are forgotten first. */
const MAX_ROOMS = 100_000;

export class LiveSeqs {
  readonly #rooms = new Map<string, number>();
  readonly #max: number;

  constructor(max = MAX_ROOMS) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be ≥ 1, got ${max}`);
    this.#max = max;
  }

  /** A message of the room at `seq` was delivered here. */
  saw(roomId: string, seq: number): void {
    const known = this.#rooms.get(roomId);
    this.#rooms.delete(roomId); // re-inserted last: the map's order is recency
    this.#rooms.set(roomId, Math.max(seq, known ?? 0));
    if (this.#rooms.size > this.#max) {
      const oldest = this.#rooms.keys().next().value;
      if (oldest !== undefined) this.#rooms.delete(oldest);
    }
  }

  /** The highest seq of the room delivered here, if any is remembered. */
  highest(roomId: string): number | undefined {
    return this.#rooms.get(roomId);
  }
}

/**
 * Does a history page lack messages up to `live` that the store is still writing? The store
 * holds a prefix of each room's sequence, so only the top of the range can be missing.
 */
export function lacksLive(
  page: readonly { readonly seq: number }[],
  q: { readonly before?: number; readonly after?: number; readonly limit: number },
  live: number | undefined,
): boolean {
  if (live === undefined) return false;
  const top = q.before === undefined ? live : Math.min(live, q.before - 1);
  if (q.after !== undefined && (q.after >= top || page.length === q.limit)) return false;
  const highest = page.at(-1)?.seq ?? q.after ?? 0;
  return highest < top;
}
