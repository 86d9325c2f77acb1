// Readiness that tells the truth, on real servers: a gateway, a forwarder and a matcher run as
// processes against a Redis and a Kafka of this test's own (the shared Cassandra for the
// store). Each backend is stopped and started again: /readyz turns 503 naming the backend's
// check (the gateway stays ready without Redis, saying it is degraded: decision 0019), /healthz
// stays 200, and /readyz is 200 again once the backend is back.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "cassandra-driver";
import { migrate } from "#contract/schema/migrate";
import { DELIVERIES_TOPIC, deliveriesTopicOf } from "#contract/settings";
import { createTopicIfMissing } from "../../workloads/shared/backends/bus.kafka.ts";
import {
  cassandraContactPoints,
  cassandraLocalDc,
  freePort,
  OwnPart,
  Workload,
  waitFor,
} from "../testkit/index.ts";

interface Ready {
  status: number;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

async function readyz(w: Workload): Promise<Ready> {
  const res = await fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(3_000) });
  const body = (await res.json()) as { checks?: Ready["checks"] };
  return { status: res.status, checks: body.checks ?? {} };
}

async function healthz(w: Workload): Promise<number> {
  return (await fetch(`${w.url}/healthz`, { signal: AbortSignal.timeout(3_000) })).status;
}

/** Waits for /readyz to answer `status` with the check in the wanted state; returns seconds. */
async function waitReady(w: Workload, status: 200 | 503, check: string): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    `${w.name} /readyz ${status} with ${check} ${status === 200 ? "ok" : "failing"}`,
    async () => {
      const r = await readyz(w);
      return r.status === status && r.checks[check]?.ok === (status === 200) ? true : undefined;
    },
    { timeoutMs: status === 503 ? 30_000 : 120_000, intervalMs: 200 },
  );
  return (Date.now() - t0) / 1000;
}

describe("readiness follows the backends (own Redis and Kafka, real processes)", () => {
  let redis: OwnPart;
  let kafka: OwnPart;
  const cluster = `rd${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const workloads: Workload[] = [];
  let gateway: Workload;
  let forwarder: Workload;
  let matcher: Workload;
  const figures: Record<string, number> = {};

  before(async () => {
    redis = await OwnPart.create("redis", { SB_REDIS_PORT: await freePort() });
    kafka = await OwnPart.create("kafka", {
      SB_KAFKA_PORT: await freePort(),
      SB_KAFKA_CONTROLLER_PORT: await freePort(),
    });
    await Promise.all([redis.up(), kafka.up()]);
    const brokers = [`127.0.0.1:${kafka.env.SB_KAFKA_PORT}`];
    await createTopicIfMissing({ clientId: "readiness", brokers }, `${cluster}.messages`, 2);
    await createTopicIfMissing(
      { clientId: "readiness", brokers },
      deliveriesTopicOf(cluster),
      DELIVERIES_TOPIC.partitions,
    );
    const cassandra = new Client({
      contactPoints: cassandraContactPoints(),
      localDataCenter: cassandraLocalDc(),
    });
    try {
      const m = await migrate(cassandra, {
        keyspace: cluster,
        replication: { class: "SimpleStrategy", replicationFactor: 1 },
      });
      if (!m.ok) throw m.error;
    } finally {
      await cassandra.shutdown();
    }
    const env = {
      SWITCHBOARD_CLUSTER: cluster,
      SWITCHBOARD_BACKENDS: "real",
      KAFKA_BROKERS: brokers.join(","),
      // a dead member's partitions come back within seconds after Kafka's restart
      KAFKA_SESSION_TIMEOUT_MS: "10000",
      CASSANDRA_CONTACT_POINTS: cassandraContactPoints().join(","),
      CASSANDRA_LOCAL_DC: cassandraLocalDc(),
      CASSANDRA_KEYSPACE: cluster,
      REDIS_URL: `redis://127.0.0.1:${redis.env.SB_REDIS_PORT}`,
      JWT_SECRET: randomBytes(32).toString("base64url"),
      PASSWORD_KDF_MEMORY_KIB: "1024",
      PASSWORD_KDF_PASSES: "1",
      LOG_LEVEL: "warn",
    };
    [gateway, forwarder, matcher] = await Promise.all([
      Workload.start("gateway", "workloads/gateway/main.ts", env, 120_000),
      Workload.start("forwarder", "workloads/forwarder/main.ts", env, 120_000),
      Workload.start("matcher", "workloads/matcher/main.ts", env, 120_000),
    ]);
    workloads.push(gateway, forwarder, matcher);
  });

  after(async (t) => {
    await Promise.allSettled(workloads.map((w) => w.stop()));
    await Promise.allSettled([redis?.stop(), kafka?.stop()]);
    const cassandra = new Client({
      contactPoints: cassandraContactPoints(),
      localDataCenter: cassandraLocalDc(),
    });
    await cassandra
      .execute(`DROP KEYSPACE IF EXISTS ${cluster}`)
      .catch(() => undefined)
      .finally(() => cassandra.shutdown());
    t.diagnostic(`readiness figures (s): ${JSON.stringify(figures)}`);
  });

  it("every check passes while the backends are up, each named in the body", async () => {
    assert.deepEqual(Object.keys((await readyz(gateway)).checks).sort(), [
      "cassandra",
      "delivery-subscription",
      "kafka",
      "listening",
      "redis",
    ]);
    const f = await readyz(forwarder);
    assert.deepEqual(Object.keys(f.checks).sort(), ["consumer-group", "kafka"]);
    assert.match(f.checks["consumer-group"]?.detail ?? "", /with partitions 0,1/);
    assert.deepEqual(Object.keys((await readyz(matcher)).checks).sort(), ["matcher", "redis"]);
    const metrics = await (await fetch(`${forwarder.url}/metrics`)).text();
    assert.match(metrics, /switchboard_readiness_check\{check="consumer-group"\} 1/);
  });

  it("Redis stopped: the matcher turns not ready naming it, the gateway stays ready saying it is degraded, alive all along, both back after", async () => {
    await redis.down();
    figures.redisDownMatcher = await waitReady(matcher, 503, "redis");
    const t0 = Date.now();
    await waitFor(
      "the gateway ready and degraded, delivering through Kafka",
      async () => {
        const g = await readyz(gateway);
        return g.status === 200 &&
          /^degraded: /.test(g.checks.redis?.detail ?? "") &&
          /^degraded: primary down/.test(g.checks["delivery-subscription"]?.detail ?? "")
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    figures.redisDownGatewayDegraded = (Date.now() - t0) / 1000;
    assert.equal(await healthz(gateway), 200);
    assert.equal(await healthz(matcher), 200);
    await redis.up();
    figures.redisBackMatcher = await waitReady(matcher, 200, "redis");
    await waitFor(
      "the gateway no longer degraded",
      async () => {
        const g = await readyz(gateway);
        return g.checks.redis?.detail === "ok" &&
          g.checks["delivery-subscription"]?.detail === "primary and fallback up"
          ? true
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
  });

  it("Kafka stopped: the gateway and the forwarder turn not ready naming it, alive all along, ready again after", async () => {
    await kafka.down();
    figures.kafkaDownGateway = await waitReady(gateway, 503, "kafka");
    figures.kafkaDownForwarder = await waitReady(forwarder, 503, "kafka");
    assert.equal(await healthz(gateway), 200);
    assert.equal(await healthz(forwarder), 200);
    assert.equal(
      (await readyz(matcher)).status,
      200,
      "the matcher does not need Kafka to be ready",
    );
    await kafka.up();
    figures.kafkaBackGateway = await waitReady(gateway, 200, "kafka");
    figures.kafkaBackForwarder = await waitReady(forwarder, 200, "consumer-group");
    assert.equal((await readyz(forwarder)).status, 200);
  });
});
