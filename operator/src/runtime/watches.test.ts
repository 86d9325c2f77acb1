import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ownerKey, specOrMetaChanged } from "./watches.ts";

describe("watch event filters", () => {
  it("maps an owned object to its ChatCluster through the controller owner reference", () => {
    const owned = {
      metadata: {
        namespace: "ns",
        name: "demo-gateway",
        ownerReferences: [
          {
            apiVersion: "chat.switchboard.dev/v1alpha1",
            kind: "ChatCluster",
            name: "demo",
            uid: "u",
            controller: true,
          },
        ],
      },
    };
    assert.equal(ownerKey(owned), "ns/demo");
    assert.equal(
      ownerKey({
        metadata: {
          namespace: "ns",
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "Deployment", name: "x", uid: "u", controller: true },
          ],
        },
      }),
      undefined,
    );
  });

  it("reconciles a ChatCluster on spec, deletion, finalizer or label changes, not on our own status writes", () => {
    const a = { metadata: { generation: 1, finalizers: ["f"] } };
    assert.equal(specOrMetaChanged(undefined, a), true);
    assert.equal(specOrMetaChanged(a, { metadata: { generation: 1, finalizers: ["f"] } }), false);
    assert.equal(specOrMetaChanged(a, { metadata: { generation: 2, finalizers: ["f"] } }), true);
    assert.equal(specOrMetaChanged(a, { metadata: { generation: 1, finalizers: [] } }), true);
    assert.equal(
      specOrMetaChanged(a, {
        metadata: { generation: 1, finalizers: ["f"], deletionTimestamp: new Date(0) },
      }),
      true,
    );
  });
});
