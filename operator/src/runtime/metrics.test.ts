import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOperatorMetrics, recordConditions } from "./metrics.ts";

describe("the ChatCluster condition gauge", () => {
  it("is 1 per True condition, 0 otherwise, and goes with a finalized ChatCluster", async () => {
    const m = createOperatorMetrics();
    recordConditions(m, "chat", "a", [
      { type: "Ready", status: "True" },
      { type: "Degraded", status: "False" },
    ]);
    recordConditions(m, "chat", "b", [{ type: "Degraded", status: "True" }]);
    const series = async () =>
      (await m.conditions.get()).values.map((v) => [v.labels.chatcluster, v.labels.type, v.value]);
    assert.deepEqual(await series(), [
      ["a", "Ready", 1],
      ["a", "Degraded", 0],
      ["b", "Degraded", 1],
    ]);
    recordConditions(m, "chat", "a", undefined);
    assert.deepEqual(await series(), [["b", "Degraded", 1]]);
    const text = await m.registry.metrics();
    assert.match(
      text,
      /switchboard_operator_chatcluster_condition\{chatcluster_namespace="chat",chatcluster="b",type="Degraded"\} 1/,
    );
  });
});
