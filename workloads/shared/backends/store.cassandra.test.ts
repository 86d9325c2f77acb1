// How CassandraStore.persistMessages groups the by-id rows and the room's state into batches:
// two partitions and 4 KiB at most each, in order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { groupForBatches } from "./store.cassandra.ts";

const statements = (...bytes: number[]) => bytes.map((b, i) => ({ i, bytes: b }));

describe("groupForBatches", () => {
  it("puts a lone message's by-id row and its room's state in one batch", () => {
    assert.deepEqual(
      groupForBatches(statements(450, 400)).map((g) => g.map((s) => s.i)),
      [[0, 1]],
    );
  });

  it("keeps every batch within 2 partitions, in order", () => {
    const groups = groupForBatches(statements(...Array.from({ length: 17 }, () => 100)));
    assert.deepEqual(
      groups.map((g) => g.length),
      [2, 2, 2, 2, 2, 2, 2, 2, 1],
    );
    assert.deepEqual(
      groups.flat().map((s) => s.i),
      Array.from({ length: 17 }, (_, i) => i),
    );
  });

  it("keeps every batch within 4 KiB, and a row larger than that alone", () => {
    const groups = groupForBatches(statements(400, 3_000, 900, 3_500, 6_000, 400));
    assert.deepEqual(
      groups.map((g) => g.map((s) => s.i)),
      [[0, 1], [2], [3], [4], [5]],
    );
    for (const g of groups) {
      if (g.length > 1) assert.ok(g.reduce((n, s) => n + s.bytes, 0) <= 4 * 1024);
    }
  });

  it("gives nothing for nothing", () => {
    assert.deepEqual(groupForBatches([]), []);
  });
});
