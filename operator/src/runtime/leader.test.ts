import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leaseDecision } from "./leader.ts";

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
