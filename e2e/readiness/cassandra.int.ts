// A gateway's readiness through a Cassandra outage, on a Cassandra of this test's own (the
// shared stack's Redis and Kafka for the rest): /readyz turns 503 naming `cassandra` while it
// is stopped, /healthz stays 200, and /readyz is 200 again once it is back.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "cassandra-driver";
import { Kafka, logLevel } from "kafkajs";
import { migrate } from "#contract/schema/migrate";
import { DELIVERIES_TOPIC, deliveriesTopicOf } from "#contract/settings";
import { createTopicIfMissing } from "../../workloads/shared/backends/bus.kafka.ts";
import { freePort, kafkaBrokers, OwnPart, redisUrl, Workload, waitFor } from "../testkit/index.ts";

async function readyz(w: Workload) {
  const res = await fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(3_000) });
  const body = (await res.json()) as { checks?: Record<string, { ok: boolean }> };
  return { status: res.status, checks: body.checks ?? {} };
}

describe("readiness follows Cassandra (own Cassandra, a real gateway process)", () => {
  let cassandra: OwnPart;
  let gateway: Workload | undefined;
  const cluster = `rc${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const topic = `${cluster}.messages`;

  before(async () => {
    cassandra = await OwnPart.create("cassandra", {
      SB_CASSANDRA_PORT: await freePort(),
      SB_CASSANDRA_STORAGE_PORT: await freePort(),
    });
    await cassandra.up(300_000);
    const contactPoint = `127.0.0.1:${cassandra.env.SB_CASSANDRA_PORT}`;
    const client = new Client({ contactPoints: [contactPoint], localDataCenter: "datacenter1" });
    try {
      const m = await migrate(client, {
        keyspace: cluster,
        replication: { class: "SimpleStrategy", replicationFactor: 1 },
      });
      if (!m.ok) throw m.error;
    } finally {
      await client.shutdown();
    }
    await createTopicIfMissing({ clientId: "readiness", brokers: kafkaBrokers() }, topic, 1);
    await createTopicIfMissing(
      { clientId: "readiness", brokers: kafkaBrokers() },
      deliveriesTopicOf(cluster),
      DELIVERIES_TOPIC.partitions,
    );
    gateway = await Workload.start(
      "gateway",
      "workloads/gateway/main.ts",
      {
        SWITCHBOARD_CLUSTER: cluster,
        SWITCHBOARD_BACKENDS: "real",
        KAFKA_BROKERS: kafkaBrokers().join(","),
        CASSANDRA_CONTACT_POINTS: contactPoint,
        CASSANDRA_LOCAL_DC: "datacenter1",
        CASSANDRA_KEYSPACE: cluster,
        REDIS_URL: redisUrl(),
        JWT_SECRET: randomBytes(32).toString("base64url"),
        LOG_LEVEL: "warn",
      },
      120_000,
    );
  });

  after(async () => {
    await gateway?.stop();
    await cassandra?.stop();
    const admin = new Kafka({
      clientId: "readiness",
      brokers: kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [topic, deliveriesTopicOf(cluster)] }))
      .catch(() => undefined)
      .finally(() => admin.disconnect());
  });

  it("Cassandra stopped: not ready naming it, alive all along, ready again after it returns", async (t) => {
    const w = gateway as Workload;
    assert.equal((await readyz(w)).checks.cassandra?.ok, true);
    await cassandra.down();
    let t0 = Date.now();
    await waitFor(
      "the gateway /readyz 503 naming cassandra",
      async () => {
        const r = await readyz(w);
        return r.status === 503 && r.checks.cassandra?.ok === false ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const down = (Date.now() - t0) / 1000;
    assert.equal((await fetch(`${w.url}/healthz`)).status, 200);
    assert.equal((await readyz(w)).checks.redis?.ok, true, "only the stopped backend fails");
    await cassandra.up(300_000);
    t0 = Date.now();
    await waitFor(
      "the gateway /readyz 200 again",
      async () => ((await readyz(w)).status === 200 ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    t.diagnostic(`cassandra figures (s): down ${down}, back ${(Date.now() - t0) / 1000}`);
  });
});
