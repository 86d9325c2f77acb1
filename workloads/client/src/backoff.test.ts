import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./backoff.ts";

describe("Backoff", () => {
  it("doubles the ceiling per attempt up to the cap, with the whole range jittered", () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 1);
    assert.deepEqual(
      Array.from({ length: 6 }, () => top.next()),
      [100, 200, 400, 800, 1_000, 1_000],
    );
    const bottom = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0);
    assert.equal(bottom.next(), 0);
  });

  it("starts small again only after a connection that lasted", () => {
    const b = new Backoff({ initialMs: 100, resetAfterMs: 5_000 }, () => 1);
    b.next();
    b.next();
    b.closedAfter(4_999);
    assert.equal(b.next(), 400);
    b.closedAfter(5_000);
    assert.equal(b.attempt, 0);
    assert.equal(b.next(), 100);
  });
});
