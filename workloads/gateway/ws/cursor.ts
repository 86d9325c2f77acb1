// Per socket and room: which seq the client has, so each message reaches it once and in order.
// While the socket catches up from the store (resume, a gap, a fresh join), live messages for
// the room wait in `pending` and are flushed after, without duplicates.
import type { DeliveredMessage } from "../../shared/events.ts";

export class RoomCursor {
  /** highest seq the client has; undefined until known */
  last: number;
  catchingUp = false;
  pending: DeliveredMessage[] = [];

  constructor(last: number) {
    this.last = last;
  }

  /**
   * What to do with a live message: "send" it now, "drop" it (already had), or "gap" (earlier
   * ones are missing: it was queued and a catch-up from `last` is needed), or "queued" (a
   * catch-up is running).
   */
  offer(m: DeliveredMessage): "send" | "drop" | "gap" | "queued" {
    if (m.seq <= this.last) return "drop";
    if (this.catchingUp) {
      this.pending.push(m);
      return "queued";
    }
    if (m.seq === this.last + 1) {
      this.last = m.seq;
      return "send";
    }
    this.catchingUp = true;
    this.pending.push(m);
    return "gap";
  }

  /** Messages read from the store during a catch-up: those the client lacks, in order. */
  accept(fromStore: readonly DeliveredMessage[]): DeliveredMessage[] {
    const out: DeliveredMessage[] = [];
    for (const m of fromStore) {
      if (m.seq === this.last + 1) {
        out.push(m);
        this.last = m.seq;
      }
    }
    return out;
  }

  /**
   * Ends a catch-up: the queued live messages that follow without a gap, in order. If a gap
   * remains (the store had not caught up yet), the rest stays queued and `gap` is true.
   */
  drain(): { send: DeliveredMessage[]; gap: boolean } {
    const queued = this.pending.sort((a, b) => a.seq - b.seq);
    const send: DeliveredMessage[] = [];
    let i = 0;
    for (; i < queued.length; i++) {
      const m = queued[i] as DeliveredMessage;
      if (m.seq <= this.last) continue;
      if (m.seq !== this.last + 1) break;
      send.push(m);
      this.last = m.seq;
    }
    this.pending = queued.slice(i).filter((m) => m.seq > this.last);
    const gap = this.pending.length > 0;
    this.catchingUp = gap;
    return { send, gap };
  }
}
