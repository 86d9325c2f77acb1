// Uploads on the real stack: gateway and forwarder processes on Kafka, Cassandra and Redis, and
// the S3-compatible store hack/stack starts (S3Proxy). The same scenarios as the embedded
// default's (uploads.scenarios.ts), through the real store's presigned POST and GET.
import { after, before, describe } from "node:test";
import { ChatStack, objectStore } from "../testkit/index.ts";
import { scenarioEnv, uploadScenarios } from "./uploads.scenarios.ts";

describe("uploads on the real stack and object store (2 gateways, 1 forwarder)", () => {
  let stack: ChatStack;

  before(async () => {
    const s = objectStore();
    stack = await ChatStack.start({
      gateways: 2,
      forwarders: 1,
      env: {
        OBJECT_STORE_ENDPOINT: s.endpoint,
        OBJECT_STORE_BUCKET: s.bucket,
        OBJECT_STORE_REGION: s.region,
        OBJECT_STORE_ACCESS_KEY_ID: s.accessKeyId,
        OBJECT_STORE_SECRET_ACCESS_KEY: s.secretAccessKey,
        ...scenarioEnv(),
      },
    });
  });

  after(async () => {
    await stack.stop();
  });

  uploadScenarios(() => ({
    url: (i) => stack.gateways[i]?.url as string,
  }));
});
