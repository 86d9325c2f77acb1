import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { keyspaceOf, messagesTopic, parseChatCluster } from "./parse.ts";
import type { ChatCluster } from "./schema.ts";

const example = async (): Promise<Record<string, unknown>> => {
  const text = await readFile(
    new URL("../../../examples/chatcluster.yaml", import.meta.url),
    "utf8",
  );
  const obj = load(text) as Record<string, unknown>;
  return { ...obj, metadata: { ...(obj.metadata as object), namespace: "team-a", uid: "u1" } };
};

describe("parseChatCluster", () => {
  it("parses examples/chatcluster.yaml and fills the schema's defaults", async () => {
    const parsed = parseChatCluster(await example());
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
    const c = parsed.value;
    assert.equal(c.name, "demo");
    assert.equal(c.namespace, "team-a");
    assert.equal(c.spec.matcher.replicas, 1);
    assert.equal(c.spec.forwarder.podDisruptionBudget.maxUnavailable, 1);
    assert.deepEqual(c.spec.gateway.resources, { requests: { cpu: "100m", memory: "128Mi" } });
    assert.equal(c.spec.observability.logLevel, "info");
    assert.equal(c.spec.auth.accessTokenTtlSeconds, 900);
    assert.equal(messagesTopic(c), "demo.messages");
    assert.equal(keyspaceOf(c), "demo");
  });

  it("defaults a minimal spec the way the API server does", () => {
    const minimal: ChatCluster["spec"] | Record<string, unknown> = {
      kafka: { bootstrapServers: ["k:9092"] },
      cassandra: { contactPoints: ["c"] },
      redis: { url: "redis://r:6379" },
      auth: { jwtSecretRef: { name: "s", key: "k" } },
    };
    const parsed = parseChatCluster({
      metadata: { name: "my-chat", namespace: "n" },
      spec: minimal,
    });
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
    assert.equal(parsed.value.spec.kafka.partitions, 12);
    assert.equal(parsed.value.spec.kafka.replicationFactor, 3);
    assert.equal(parsed.value.spec.deletionPolicy, "Retain");
    assert.equal(parsed.value.spec.gateway.replicas, 2);
    assert.equal(parsed.value.spec.gateway.service.port, 80);
    assert.equal(keyspaceOf(parsed.value), "my_chat");
  });

  it("refuses a spec the schema refuses, naming the field", async () => {
    const obj = await example();
    const spec = obj.spec as { kafka: Record<string, unknown> };
    spec.kafka.partitions = 0;
    const parsed = parseChatCluster(obj);
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? "" : parsed.message, /\/spec\/kafka\/partitions/);
  });

  it("refuses an object without a namespace", () => {
    const parsed = parseChatCluster({ metadata: { name: "x" }, spec: {} });
    assert.equal(parsed.ok, false);
  });

  it("sees a deletion timestamp as deleting", async () => {
    const obj = await example();
    (obj.metadata as Record<string, unknown>).deletionTimestamp = "2026-01-01T00:00:00Z";
    const parsed = parseChatCluster(obj);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.deleting, true);
  });
});
