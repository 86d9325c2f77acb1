import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1LeaseSpec } from "@kubernetes/client-node";
import { pino } from "pino";
import { type Clock, LeaderElector, type LeaseStore, leaseDecision } from "./leader.ts";

const rec = (holder: string) => ({ holder, renewTime: "t", resourceVersion: "1" });

describe("leaseDecision", () => {
  it("creates a missing Lease, renews its own, takes a free one", () => {
    assert.equal(leaseDecision(undefined, "me", 0, 0, 1000), "create");
    assert.equal(leaseDecision(rec("me"), "me", 0, 5000, 1000), "renew");
    assert.equal(leaseDecision(rec(""), "me", 0, 0, 1000), "take");
  });

  it("waits while another holder's record changed within the lease duration, then takes over", () => {
    assert.equal(leaseDecision(rec("other"), "me", 10_000, 10_999, 1000), "wait");
    assert.equal(leaseDecision(rec("other"), "me", 10_000, 11_000, 1000), "take");
  });
});

/** A Lease in memory (resourceVersion compare-and-swap) on a clock the test owns. */
function fakeLease() {
  let now = 0;
  let version = 0;
  let state:
    | { holder: string; renewTime: string; transitions: number; spec: V1LeaseSpec }
    | undefined;
  const lease = {
    failing: false,
    /** another replica that renews on every read while it holds the Lease */
    otherRenewing: false,
    transitions: () => state?.transitions ?? 0,
    holder: () => state?.holder,
  };
  const fail = () => {
    if (lease.failing) throw new Error("the API server timed out");
  };
  const write = (spec: V1LeaseSpec) => {
    version++;
    state = {
      holder: spec.holderIdentity ?? "",
      renewTime: String(now),
      transitions: spec.leaseTransitions ?? 0,
      spec,
    };
  };
  const store: LeaseStore = {
    async read() {
      fail();
      if (state === undefined) return undefined;
      if (state.holder === "other" && lease.otherRenewing) {
        version++;
        state = { ...state, renewTime: String(now) };
      }
      return {
        record: {
          holder: state.holder,
          renewTime: state.renewTime,
          resourceVersion: String(version),
        },
        acquireTime: undefined,
        leaseTransitions: state.transitions,
        spec: state.spec,
      };
    },
    async create(spec) {
      fail();
      if (state !== undefined) throw new Error("409 AlreadyExists");
      write(spec);
    },
    async replace(resourceVersion, spec) {
      fail();
      if (resourceVersion !== String(version)) throw new Error("409 Conflict");
      write(spec);
    },
  };
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  /** Another replica takes the Lease (as after our renewals failed for a lease duration). */
  const takenByOther = () => {
    if (state === undefined) throw new Error("no Lease yet");
    write({ ...state.spec, holderIdentity: "other", leaseTransitions: state.transitions + 1 });
  };
  return { store, clock, lease, takenByOther, now: () => now };
}

/** Lets the elector's loop run (its sleeps advance the fake clock) until `cond` holds. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never saw ${what}`);
}

function elector(f: ReturnType<typeof fakeLease>) {
  const events: string[] = [];
  const e = new LeaderElector(
    f.store,
    {
      namespace: "ns",
      name: "lease",
      identity: "me",
      leaseDurationMs: 6_000,
      renewDeadlineMs: 4_000,
      retryPeriodMs: 500,
      onStarted: () => events.push("started"),
      onStopped: () => events.push("stopped"),
    },
    pino({ level: "silent" }),
    f.clock,
  );
  return { e, events };
}

describe("LeaderElector", () => {
  it("a leader whose renewals fail past the deadline stops, campaigns again and leads again", async () => {
    const f = fakeLease();
    const { e, events } = elector(f);
    e.start();
    await until("leadership", () => e.leading);
    f.lease.failing = true;
    const failedAt = f.now();
    await until("the loss", () => events.includes("stopped"));
    assert.equal(e.leading, false);
    assert.ok(f.now() - failedAt >= 4_000, "not before the renew deadline");
    f.lease.failing = false;
    await until("leadership again", () => e.leading);
    assert.deepEqual(events, ["started", "stopped", "started"]);
    await e.stop();
    assert.equal(f.lease.holder(), "", "released on stop");
  });

  it("after a loss it waits while another replica renews, and takes over once that replica stops", async () => {
    const f = fakeLease();
    const { e, events } = elector(f);
    e.start();
    await until("leadership", () => e.leading);
    f.lease.failing = true;
    await until("the loss", () => events.includes("stopped"));
    f.takenByOther();
    f.lease.otherRenewing = true;
    f.lease.failing = false;
    const resumedAt = f.now();
    await until("20 s of standing by", () => f.now() - resumedAt >= 20_000);
    assert.equal(e.leading, false, "never takes a Lease another replica renews");
    assert.equal(f.lease.holder(), "other");
    f.lease.otherRenewing = false;
    const otherStoppedAt = f.now();
    await until("leadership again", () => e.leading);
    assert.ok(f.now() - otherStoppedAt >= 6_000, "only after a whole lease duration unrenewed");
    assert.equal(f.lease.holder(), "me");
    assert.equal(f.lease.transitions(), 2);
    assert.deepEqual(events, ["started", "stopped", "started"]);
    await e.stop();
  });
});
