import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StepResult } from "../reconcile/result.ts";
import { backoffMs, type Timers, WorkQueue } from "./queue.ts";

/** Timers driven by the test: advance(ms) fires what is due. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      seq++;
      pending.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => {
      pending.delete(h as number);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        pending.delete(id);
        t.fn();
      }
    }
  };
  return { timers, advance, delays: () => [...pending.values()].map((t) => t.at - now) };
}

const tick = () => new Promise((r) => setImmediate(r));

function gate() {
  let open!: (r: StepResult) => void;
  const p = new Promise<StepResult>((r) => {
    open = r;
  });
  return { p, open };
}

describe("WorkQueue", () => {
  it("merges repeated events for a key into one reconcile", async () => {
    const seen: string[] = [];
    const g = gate();
    const q2 = new WorkQueue({
      process: async (k) => {
        seen.push(k);
        return k === "a" ? g.p : { kind: "done" };
      },
      concurrency: 1,
      baseDelayMs: 10,
      maxDelayMs: 100,
      maxKeys: 10,
      timers: fakeTimers().timers,
    });
    q2.add("a"); // runs, blocks
    q2.add("b");
    q2.add("b");
    q2.add("b");
    g.open({ kind: "done" });
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(seen, ["a", "b"]);
    await q2.stop();
  });

  it("runs one reconcile at a time per key and once more if it changed meanwhile", async () => {
    let running = 0;
    let maxRunning = 0;
    const gates: ReturnType<typeof gate>[] = [];
    const q = new WorkQueue({
      process: () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const g = gate();
        gates.push(g);
        return g.p.finally(() => running--);
      },
      concurrency: 4,
      baseDelayMs: 10,
      maxDelayMs: 100,
      maxKeys: 10,
      timers: fakeTimers().timers,
    });
    q.add("a");
    q.add("a");
    q.add("a");
    await tick();
    assert.equal(gates.length, 1);
    gates[0]?.open({ kind: "done" });
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(gates.length, 2, "the changes during the first run merge into one more run");
    gates[1]?.open({ kind: "done" });
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(gates.length, 2);
    assert.equal(maxRunning, 1);
    await q.stop();
  });

  it("retries failures after a capped exponential backoff, and an event does not cut it short", async () => {
    const ft = fakeTimers();
    let calls = 0;
    const q = new WorkQueue({
      process: async () => {
        calls++;
        return { kind: "error", step: "kafka", message: "down" };
      },
      concurrency: 1,
      baseDelayMs: 100,
      maxDelayMs: 400,
      maxKeys: 10,
      timers: ft.timers,
    });
    q.add("a");
    await tick();
    assert.equal(calls, 1);
    assert.deepEqual(ft.delays(), [100]);
    q.add("a");
    await tick();
    assert.equal(calls, 1, "an event during the backoff waits for it");
    const expected = [200, 400, 400];
    for (const d of expected) {
      ft.advance(ft.delays()[0] ?? 0);
      await tick();
      assert.deepEqual(ft.delays(), [d]);
    }
    assert.equal(calls, 4);
    assert.equal(q.failures("a"), 4);
    await q.stop();
  });

  it("forgets the failures after a success and honours requeue-after", async () => {
    const ft = fakeTimers();
    const results: StepResult[] = [
      { kind: "error", step: "s", message: "m" },
      { kind: "requeue", afterMs: 5000, why: "w" },
    ];
    const q = new WorkQueue({
      process: async () => results.shift() ?? { kind: "done" },
      concurrency: 1,
      baseDelayMs: 100,
      maxDelayMs: 400,
      maxKeys: 10,
      timers: ft.timers,
    });
    q.add("a");
    await tick();
    ft.advance(100);
    await tick();
    assert.equal(q.failures("a"), 0);
    assert.deepEqual(ft.delays(), [5000]);
    await q.stop();
  });

  it("holds at most maxKeys keys and reports what it drops", async () => {
    const dropped: string[] = [];
    const g = gate();
    const q = new WorkQueue({
      process: () => g.p,
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      maxKeys: 2,
      timers: fakeTimers().timers,
      onDropped: (k) => dropped.push(k),
    });
    q.add("a"); // running: not held
    q.add("b");
    q.add("c");
    q.add("d");
    assert.deepEqual(dropped, ["d"]);
    assert.equal(q.depth, 2);
    g.open({ kind: "done" });
    await q.stop();
  });

  it("stop() waits for the running reconcile and starts no new one", async () => {
    const g = gate();
    let calls = 0;
    const q = new WorkQueue({
      process: () => {
        calls++;
        return g.p;
      },
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      maxKeys: 5,
      timers: fakeTimers().timers,
    });
    q.add("a");
    q.add("b");
    let stopped = false;
    const s = q.stop().then(() => {
      stopped = true;
    });
    await tick();
    assert.equal(stopped, false);
    g.open({ kind: "done" });
    await s;
    assert.equal(calls, 1);
  });

  it("pause lets the running reconcile finish, drops what waits, and resume takes work again", async () => {
    const seen: string[] = [];
    const g = gate();
    const ft = fakeTimers();
    const q = new WorkQueue({
      process: (k) => {
        seen.push(k);
        return k === "a"
          ? g.p
          : Promise.resolve({ kind: "requeue", afterMs: 10, why: "test" } as StepResult);
      },
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      maxKeys: 5,
      timers: ft.timers,
    });
    q.add("a");
    q.add("b");
    let paused = false;
    const p = q.pause().then(() => {
      paused = true;
    });
    q.add("c");
    await tick();
    assert.equal(paused, false, "waits for the running reconcile");
    g.open({ kind: "requeue", afterMs: 10, why: "test" });
    await p;
    ft.advance(100);
    await tick();
    assert.deepEqual(seen, ["a"], "nothing ran or was requeued while paused");
    assert.equal(q.depth, 0);
    q.resume();
    q.add("b");
    await tick();
    assert.deepEqual(seen, ["a", "b"]);
    await q.stop();
    q.resume();
    q.add("c");
    await tick();
    assert.deepEqual(seen, ["a", "b"], "stop is for good");
  });

  it("backoffMs doubles from the base up to the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 50].map((n) => backoffMs(n, 100, 1000)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
});
