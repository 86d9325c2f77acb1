import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Gauge, Registry } from "prom-client";
import { degradedWhile, Readiness } from "./readiness.ts";

/** A check the test turns healthy, failing or silent. */
function switchable() {
  let mode: "ok" | "fail" | "hang" = "ok";
  return {
    set: (m: typeof mode) => {
      mode = m;
    },
    check: () =>
      mode === "ok"
        ? Promise.resolve("fine")
        : mode === "fail"
          ? Promise.reject(new Error("connection refused"))
          : new Promise<never>(() => {}),
  };
}

describe("Readiness", () => {
  it("is not ready before the first check, ready once every check passed", async () => {
    const a = switchable();
    const r = new Readiness([{ name: "redis", check: a.check }]);
    assert.equal(r.ready, false);
    assert.equal(r.report().checks.redis?.detail, "not checked yet");
    await r.poll();
    assert.equal(r.ready, true);
    assert.equal(r.report().checks.redis?.detail, "fine");
  });

  it("turns not ready after two failures in a row, naming the check and why, and back at the first success", async () => {
    const a = switchable();
    const b = switchable();
    const registry = new Registry();
    const gauge = new Gauge({
      name: "t_check",
      help: "t",
      labelNames: ["check"] as const,
      registers: [registry],
    });
    const r = new Readiness(
      [
        { name: "kafka", check: a.check },
        { name: "redis", check: b.check },
      ],
      { gauge, timeoutMs: 50 },
    );
    await r.poll();
    assert.equal(r.ready, true);
    b.set("fail");
    await r.poll();
    assert.equal(r.ready, true, "one failure is not enough");
    await r.poll();
    assert.equal(r.ready, false);
    assert.deepEqual(
      Object.fromEntries(Object.entries(r.report().checks).map(([k, v]) => [k, [v.ok, v.detail]])),
      { kafka: [true, "fine"], redis: [false, "connection refused"] },
    );
    assert.match(await registry.metrics(), /t_check\{check="redis"\} 0/);
    b.set("ok");
    await r.poll();
    assert.equal(r.ready, true);
    assert.match(await registry.metrics(), /t_check\{check="redis"\} 1/);
  });

  it("a check that never answers fails by its timeout", async () => {
    const a = switchable();
    const r = new Readiness([{ name: "cassandra", check: a.check }], { timeoutMs: 20 });
    a.set("hang");
    await r.poll();
    assert.equal(r.ready, false);
    assert.match(r.report().checks.cassandra?.detail ?? "", /no answer within 20 ms/);
  });
});

describe("degradedWhile", () => {
  it("passes as the check does, passes degraded saying why while only the fallback passes, and fails when both fail", async () => {
    const redis = switchable();
    const kafka = switchable();
    const check = degradedWhile(redis.check, kafka.check, "delivering through Kafka");
    assert.equal(await check(), "ok");
    redis.set("fail");
    assert.equal(await check(), "degraded: connection refused; delivering through Kafka");
    kafka.set("fail");
    await assert.rejects(
      check(),
      /^Error: connection refused; and no fallback: connection refused$/,
    );
  });
});
