// The operator and spec.objectStore, against the real API server, Kafka, Cassandra and the
// object store hack/stack starts: the gateways are given the store's settings (credentials by
// Secret reference), and ObjectStoreReady says whether the bucket answers HeadBucket — False
// (BucketMissing) without blocking the rest, True once the bucket exists.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { objectStore, uniqueName } from "../testkit/index.ts";
import {
  Cluster,
  exampleChatCluster,
  startInProcess,
  type TestCluster,
  teardown,
} from "./harness.ts";

const cluster = new Cluster();

describe("operator: spec.objectStore (real API server and object store)", () => {
  const store = objectStore();
  const s3 = new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: true,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
  });
  const bucket = uniqueName("op-bucket").toLowerCase().replaceAll("_", "-").slice(0, 40);

  before(async () => {
    await cluster.installCrd();
  });
  after(async () => {
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    s3.destroy();
  });

  it("reports a missing bucket as ObjectStoreReady False (BucketMissing) and True once it exists", async () => {
    const namespace = await cluster.createNamespace("objs");
    await cluster.createJwtSecret(namespace);
    await cluster.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "s3" },
        stringData: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
      },
    });
    const operator = await startInProcess(namespace);
    let t: TestCluster | undefined;
    try {
      t = await exampleChatCluster(namespace, {
        objectStore: {
          endpoint: store.endpoint,
          bucket,
          region: store.region,
          credentialsSecretRef: { name: "s3" },
          limits: { maxBytes: 4096 },
        },
      });
      await cluster.apply(t.object);
      const missing = await cluster.waitCondition(
        namespace,
        t.name,
        "ObjectStoreReady",
        "False",
        "BucketMissing",
      );
      const cond = (type: string) => missing.status?.conditions?.find((c) => c.type === type);
      assert.match(
        cond("ObjectStoreReady")?.message ?? "",
        new RegExp(`bucket ${bucket} .*does not exist`),
      );
      assert.equal(cond("Degraded")?.status, "False", "a missing bucket degrades nothing else");
      assert.equal(cond("Ready")?.reason, "PodsNotReady", "Ready waits for pods, not the bucket");

      const config = await cluster.core.readNamespacedConfigMap({
        namespace,
        name: `${t.name}-config`,
      });
      assert.equal(config.data?.OBJECT_STORE_ENDPOINT, store.endpoint);
      assert.equal(config.data?.OBJECT_STORE_BUCKET, bucket);
      assert.equal(config.data?.UPLOAD_MAX_BYTES, "4096");

      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // a spec change makes the operator look again (else the periodic resync would)
      await cluster.patchSpec(namespace, t.name, { objectStore: { limits: { maxBytes: 8192 } } });
      const ready = await cluster.waitCondition(
        namespace,
        t.name,
        "ObjectStoreReady",
        "True",
        "BucketReady",
      );
      assert.ok(ready.status?.conditions?.some((c) => c.type === "ObjectStoreReady"));
    } finally {
      await operator.stop();
      await teardown(cluster, t, namespace);
    }
  });
});
