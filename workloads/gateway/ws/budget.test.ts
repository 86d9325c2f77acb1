import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LocalBucket } from "./budget.ts";

describe("LocalBucket", () => {
  it("allows the burst, refuses the next, and refills with time", () => {
    let now = 0;
    const bucket = new LocalBucket({ capacity: 3, refillPerSecond: 2 }, () => now);
    assert.deepEqual(
      [bucket.take(), bucket.take(), bucket.take(), bucket.take()],
      [true, true, true, false],
    );
    now = 499;
    assert.equal(bucket.take(), false);
    now = 500;
    assert.equal(bucket.take(), true);
    now = 100_000;
    assert.deepEqual(
      [bucket.take(), bucket.take(), bucket.take(), bucket.take()],
      [true, true, true, false],
    );
  });

  it("refuses a bucket that could never hold a token", () => {
    assert.throws(() => new LocalBucket({ capacity: 0, refillPerSecond: 1 }), RangeError);
    assert.throws(() => new LocalBucket({ capacity: 1, refillPerSecond: 0 }), RangeError);
  });
});
