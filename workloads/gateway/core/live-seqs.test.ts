import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LiveSeqs, lacksLive } from "./live-seqs.ts";

const page = (...seqs: number[]) => seqs.map((seq) => ({ seq }));

describe("LiveSeqs", () => {
  it("keeps the highest seq per room, forgetting the least recently delivered room first", () => {
    const live = new LiveSeqs(2);
    live.saw("a", 5);
    live.saw("a", 3); // a late copy never lowers it
    live.saw("b", 1);
    assert.equal(live.highest("a"), 5);
    live.saw("a", 6); // a is now the most recent
    live.saw("c", 9);
    assert.equal(live.highest("b"), undefined, "b was the least recent");
    assert.equal(live.highest("a"), 6);
    assert.equal(live.highest("c"), 9);
    assert.throws(() => new LiveSeqs(0), RangeError);
  });
});

describe("lacksLive", () => {
  it("the newest page lacks what was delivered above its top", () => {
    assert.equal(lacksLive(page(1, 2, 3), { limit: 50 }, 4), true);
    assert.equal(lacksLive(page(1, 2, 3, 4), { limit: 50 }, 4), false);
    assert.equal(lacksLive(page(), { limit: 50 }, 1), true);
    assert.equal(lacksLive(page(1), { limit: 50 }, undefined), false, "nothing seen here");
  });

  it("a page before a seq lacks only what is below that seq", () => {
    assert.equal(lacksLive(page(1, 2), { before: 3, limit: 2 }, 9), false);
    assert.equal(lacksLive(page(1, 2), { before: 5, limit: 50 }, 9), true);
    assert.equal(lacksLive(page(1, 2), { before: 9, limit: 50 }, 2), false);
  });

  it("a page after a seq lacks the rest only while it is not full", () => {
    assert.equal(lacksLive(page(4, 5), { after: 3, limit: 2 }, 9), false, "the next page has it");
    assert.equal(lacksLive(page(4, 5), { after: 3, limit: 10 }, 9), true);
    assert.equal(lacksLive(page(), { after: 9, limit: 10 }, 9), false);
    assert.equal(lacksLive(page(), { after: 7, limit: 10 }, 9), true);
  });
});
