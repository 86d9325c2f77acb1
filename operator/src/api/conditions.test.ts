import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConditionType, Reason, setCondition } from "./conditions.ts";

const t0 = new Date("2026-01-01T00:00:00.000Z");
const t1 = new Date("2026-01-01T00:05:00.000Z");

describe("setCondition", () => {
  it("adds a condition stamped with the generation and the clock's time", () => {
    const c = setCondition(
      [],
      { type: ConditionType.Ready, status: "False", reason: Reason.PodsNotReady, message: "0/2" },
      3,
      t0,
    );
    assert.deepEqual(c, [
      {
        type: "Ready",
        status: "False",
        reason: "PodsNotReady",
        message: "0/2",
        observedGeneration: 3,
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ]);
  });

  it("keeps lastTransitionTime when only the reason, message or generation change", () => {
    const first = setCondition(
      [],
      { type: ConditionType.Ready, status: "False", reason: Reason.PodsNotReady, message: "0/2" },
      1,
      t0,
    );
    const second = setCondition(
      first,
      { type: ConditionType.Ready, status: "False", reason: Reason.KafkaUnreachable, message: "x" },
      2,
      t1,
    );
    assert.equal(second[0]?.lastTransitionTime, "2026-01-01T00:00:00Z");
    assert.equal(second[0]?.reason, "KafkaUnreachable");
    assert.equal(second[0]?.observedGeneration, 2);
  });

  it("moves lastTransitionTime when the status flips, and keeps the other conditions in order", () => {
    let c = setCondition(
      [],
      { type: ConditionType.Degraded, status: "False", reason: Reason.AsExpected, message: "" },
      1,
      t0,
    );
    c = setCondition(
      c,
      { type: ConditionType.Ready, status: "False", reason: Reason.PodsNotReady, message: "" },
      1,
      t0,
    );
    c = setCondition(
      c,
      { type: ConditionType.Ready, status: "True", reason: Reason.Reconciled, message: "" },
      1,
      t1,
    );
    assert.deepEqual(
      c.map((x) => [x.type, x.status, x.lastTransitionTime]),
      [
        ["Degraded", "False", "2026-01-01T00:00:00Z"],
        ["Ready", "True", "2026-01-01T00:05:00Z"],
      ],
    );
  });
});
