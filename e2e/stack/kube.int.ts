// Smoke suite: @kubernetes/client-node against the real kube-apiserver, etcd and
// kube-controller-manager that hack/stack starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
  type V1Deployment,
} from "@kubernetes/client-node";
import { kubeconfigPath, uniqueK8sName, waitFor } from "../testkit/index.ts";

const fieldManager = "switchboard-smoke";

describe("kubernetes control plane (real apiserver + controller-manager)", () => {
  const kc = new KubeConfig();
  const namespace = uniqueK8sName("smoke");
  const group = `${uniqueK8sName("g")}.smoke.switchboard.dev`;
  const crdName = `widgets.${group}`;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let ext: ApiextensionsV1Api;
  let custom: CustomObjectsApi;

  const apply = <T extends KubernetesObject>(obj: T): Promise<T> =>
    objects.patch(obj, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  before(async () => {
    kc.loadFromFile(kubeconfigPath());
    objects = KubernetesObjectApi.makeApiClient(kc);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    ext = kc.makeApiClient(ApiextensionsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await ext.deleteCustomResourceDefinition({ name: crdName }).catch(() => undefined);
  });

  it("applies a CRD with a CEL rule; the API server enforces the rule and serves status", async () => {
    const crd: V1CustomResourceDefinition = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: crdName },
      spec: {
        group,
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    properties: {
                      min: { type: "integer" },
                      max: { type: "integer" },
                    },
                    x_kubernetes_validations: [
                      { rule: "self.min <= self.max", message: "min must not exceed max" },
                    ],
                  },
                  status: { type: "object", properties: { phase: { type: "string" } } },
                },
              },
            },
          },
        ],
      },
    };
    await apply(crd);
    await waitFor("the CRD to be Established", async () => {
      const got = await ext.readCustomResourceDefinition({ name: crdName });
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? true
        : undefined;
    });

    const widget = (
      min: number,
      max: number,
      name: string,
    ): KubernetesObject & { spec: object } => ({
      apiVersion: `${group}/v1`,
      kind: "Widget",
      metadata: { name, namespace },
      spec: { min, max },
    });
    // the new type may take a moment to be served by discovery
    await waitFor("the Widget type to be served", () => apply(widget(1, 2, "good")));
    await assert.rejects(apply(widget(3, 2, "bad")), (err: unknown) => {
      assert.match(String((err as { body?: unknown }).body ?? err), /min must not exceed max/);
      return true;
    });

    const status = (await custom.patchNamespacedCustomObjectStatus(
      {
        group,
        version: "v1",
        namespace,
        plural: "widgets",
        name: "good",
        body: { status: { phase: "Ready" } },
        fieldManager,
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as { status?: { phase?: string }; spec?: { min?: number } };
    assert.equal(status.status?.phase, "Ready");
    assert.equal(status.spec?.min, 1);
  });

  it("applies a Deployment and the controller-manager creates its ReplicaSet", async () => {
    const deployment: V1Deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace, labels: { app: "web" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "web", image: "registry.invalid/web:1" }] },
        },
      },
    };
    const applied = await apply(deployment);
    assert.ok(applied.metadata?.uid, "the applied Deployment has no uid");
    assert.ok(
      applied.metadata?.managedFields?.some(
        (f) => f.manager === fieldManager && f.operation === "Apply",
      ),
      "the field manager does not own the applied fields",
    );
    const rs = await waitFor(
      "a ReplicaSet owned by the Deployment",
      async () => {
        const list = await apps.listNamespacedReplicaSet({ namespace });
        return list.items.find((r) =>
          r.metadata?.ownerReferences?.some(
            (o) => o.kind === "Deployment" && o.uid === applied.metadata?.uid,
          ),
        );
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(rs.spec?.replicas, 1);
  });
});
