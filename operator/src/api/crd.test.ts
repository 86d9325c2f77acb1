import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { CRD_FILE, chatClusterCrd, chatClusterCrdYaml } from "./crd.ts";

const repo = new URL("../../../", import.meta.url);

describe("ChatCluster CRD", () => {
  it("crds/ holds exactly what the schema generates (run node hack/gen-crd.ts)", async () => {
    assert.equal(await readFile(new URL(CRD_FILE, repo), "utf8"), chatClusterCrdYaml());
  });

  it("the chart's CRD is the same file", async () => {
    const chart = new URL(
      "charts/switchboard-operator/crds/chat.switchboard.dev_chatclusters.yaml",
      repo,
    );
    assert.equal(await readFile(chart, "utf8"), chatClusterCrdYaml());
  });

  it("the YAML reads back as the CRD object", () => {
    assert.deepEqual(load(chatClusterCrdYaml()), chatClusterCrd());
  });

  it("no field with a default is required (the API server refuses such a CRD)", () => {
    const walk = (schema: Record<string, unknown>, path: string): void => {
      const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const k of (schema.required ?? []) as string[]) {
        assert.equal(properties[k]?.default, undefined, `${path}.${k} is required and defaulted`);
      }
      for (const [k, v] of Object.entries(properties)) walk(v, `${path}.${k}`);
      if (typeof schema.items === "object") walk(schema.items as Record<string, unknown>, path);
    };
    const crd = chatClusterCrd() as {
      spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] };
    };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    assert.ok(schema);
    walk(schema, "");
  });

  it("carries the CEL rules for replicas, partitions and immutable names", () => {
    const text = chatClusterCrdYaml();
    assert.match(text, /rule: self.minReplicas <= self.maxReplicas/);
    assert.match(text, /rule: self >= oldSelf/);
    assert.match(text, /has\(self.keyspace\) == has\(oldSelf.keyspace\)/);
    assert.match(text, /has\(self.topicPrefix\) == has\(oldSelf.topicPrefix\)/);
  });
});
