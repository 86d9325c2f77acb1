// The load generator's coordinator: spreads sockets and rooms over worker threads, runs a step
// on all of them at once, and merges what they measured.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { merge } from "../lib/histogram.ts";
import {
  type Command,
  emptyStep,
  type OpenResult,
  type Reply,
  type SocketSpec,
  type StepResult,
} from "./protocol.ts";

export interface RoomSpec {
  readonly id: string;
  readonly members: readonly Omit<SocketSpec, "room">[];
}

export class Generator {
  readonly #workers: Worker[];
  /** share of the traffic each worker sends: its number of rooms */
  #roomsPerWorker: number[] = [];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  static async start(threads: number): Promise<Generator> {
    const workers = Array.from(
      { length: threads },
      () => new Worker(new URL("./worker.ts", import.meta.url)),
    );
    await Promise.all(workers.map((w) => once(w, "online")));
    for (const w of workers) w.on("error", (err) => console.error("load generator worker:", err));
    return new Generator(workers);
  }

  get threads(): number {
    return this.#workers.length;
  }

  async #ask<T extends Reply>(w: Worker, cmd: Command): Promise<T> {
    const reply = once(w, "message") as Promise<[T]>;
    w.postMessage(cmd);
    return (await reply)[0];
  }

  /**
   * Opens every socket (upgrade with the token, hello, welcome). Rooms go whole to one worker,
   * round robin; idle sockets are spread evenly.
   */
  async open(
    rooms: readonly RoomSpec[],
    idle: readonly SocketSpec[] = [],
    concurrency = 64,
  ): Promise<OpenResult> {
    const n = this.#workers.length;
    const perWorker = this.#workers.map(() => ({
      rooms: [] as string[],
      sockets: [] as SocketSpec[],
    }));
    rooms.forEach((room, i) => {
      const w = perWorker[i % n];
      if (w === undefined) return;
      const index = w.rooms.push(room.id) - 1;
      for (const m of room.members) w.sockets.push({ ...m, room: index });
    });
    for (const [i, s] of idle.entries()) perWorker[i % n]?.sockets.push(s);
    this.#roomsPerWorker = perWorker.map((w) => w.rooms.length);
    const results = await Promise.all(
      this.#workers.map((w, i) =>
        this.#ask<OpenResult>(w, {
          op: "open",
          rooms: perWorker[i]?.rooms ?? [],
          sockets: perWorker[i]?.sockets ?? [],
          concurrency,
        }),
      ),
    );
    const failures: Record<string, number> = {};
    for (const r of results)
      for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    return {
      op: "opened",
      ok: results.reduce((a, r) => a + r.ok, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      failures,
      ms: Math.max(...results.map((r) => r.ms)),
    };
  }

  /** Sends `rate` messages per second in total for `durationMs`, then waits for deliveries. */
  async step(
    step: number,
    rate: number,
    durationMs: number,
    opts: { drainMs?: number; window?: number } = {},
  ): Promise<StepResult> {
    const totalRooms = this.#roomsPerWorker.reduce((a, b) => a + b, 0);
    const results = await Promise.all(
      this.#workers.map((w, i) =>
        this.#ask<StepResult>(w, {
          op: "step",
          step,
          rate: totalRooms === 0 ? 0 : (rate * (this.#roomsPerWorker[i] ?? 0)) / totalRooms,
          durationMs,
          drainMs: opts.drainMs ?? 10_000,
          window: opts.window ?? 32,
        }),
      ),
    );
    const out: StepResult = emptyStep(step);
    for (const r of results) {
      out.sent += r.sent;
      out.throttled += r.throttled;
      out.skipped += r.skipped;
      out.acked += r.acked;
      out.expected += r.expected;
      out.received += r.received;
      out.late += r.late;
      out.activeMs = Math.max(out.activeMs, r.activeMs);
      merge(out.all, r.all);
      merge(out.cross, r.cross);
      merge(out.ack, r.ack);
      for (const [k, v] of Object.entries(r.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.closes)) out.closes[k] = (out.closes[k] ?? 0) + v;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#ask(w, { op: "close" })));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
