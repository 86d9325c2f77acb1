// The Helm chart, checked as far as a cluster without a kubelet allows: helm lint --strict,
// helm template with the defaults and with every option on, values.schema.json refusing bad
// values, the seams with the code (the operator's own config reader reads the Deployment's
// env; the PodMonitor selects the Pods the operator builds; dashboards and alerts name only
// metrics the code exports), and a server-side dry run of everything rendered on the real
// API server of hack/stack. (helm install into a cluster with a kubelet is the e2e suite's.)
//
// helm: $SB_HELM, else `hack/helm.sh path` (builds it once, cached; CI exports SB_HELM first).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { V1Container, V1Deployment } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { EnvReader } from "#contract/env";
import { exampleCluster } from "../../operator/src/reconcile/fixture.ts";
import { CLUSTER_LABEL, COMPONENTS } from "../../operator/src/reconcile/names.ts";
import { buildDeployment } from "../../operator/src/reconcile/workloads.ts";
import { readOperatorSettings } from "../../operator/src/runtime/config.ts";
import { createOperatorMetrics } from "../../operator/src/runtime/metrics.ts";
import { createMetrics } from "../../workloads/shared/telemetry/metrics.ts";
import { kubeconfigPath, kubectlPath, uniqueK8sName } from "../testkit/index.ts";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../", import.meta.url));
const chart = `${repo}charts/switchboard-operator`;
const crdFile = `${repo}crds/chat.switchboard.dev_chatclusters.yaml`;
const monitoringCrds = fileURLToPath(new URL("monitoring-crds.yaml", import.meta.url));
const commandTimeoutMs = 120_000;

/** every optional part on (and the lists and maps filled), as a user enabling them would */
const everything = [
  "metrics.serviceMonitor.enabled=true",
  "metrics.serviceMonitor.labels.release=prometheus",
  "metrics.podMonitor.enabled=true",
  "prometheusRule.enabled=true",
  "dashboards.enabled=true",
  "imagePullSecrets[0].name=registry",
  "otlpTracesEndpoint=http://otel-collector.monitoring:4318/v1/traces",
  "podAnnotations.team=chat",
  "podLabels.tier=control",
  "nodeSelector.kubernetes\\.io/os=linux",
  "tolerations[0].key=dedicated",
  "tolerations[0].operator=Exists",
].flatMap((s) => ["--set", s]);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function exec(file: string, args: string[], input?: string): Promise<Result> {
  const child = run(file, args, {
    timeout: commandTimeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? String(err),
    };
  }
}

const ok = (r: Result, what: string): string => {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
};

const parse = (yaml: string): K8sObject[] =>
  loadAll(yaml).filter((d): d is K8sObject => typeof d === "object" && d !== null);

const byKind = (objects: K8sObject[], kind: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind);

const one = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = byKind(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
  assert.equal(
    found.length,
    1,
    `expected one ${kind}${name ? ` ${name}` : ""}, got ${found.length}`,
  );
  return found[0] as K8sObject;
};

/** Every metric name the workloads and the operator register, as Prometheus sees them. */
async function exportedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [createMetrics().registry, createOperatorMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === "histogram") {
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m.name + suffix);
      }
    }
  }
  return names;
}

/** PromQL's functions, aggregations and operators that read like names. */
const promqlWords = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "rate",
  "increase",
  "deriv",
  "histogram_quantile",
  "vector",
  "absent",
  "label_values",
  "and",
  "or",
  "unless",
]);

/** The metric names in a PromQL expression: what is left without matchers, ranges, groupings. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const [name] of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (!promqlWords.has(name)) names.add(name);
  }
  return [...names];
}

/** Metrics of other exporters the alerts rely on, named in values.yaml and the decision record. */
const external = new Set([
  "up", // Prometheus itself, per scraped target
  "kube_deployment_status_replicas_available", // kube-state-metrics
]);

describe("the switchboard-operator chart", () => {
  let helm: string;
  let kubectl: string | undefined;
  let kubeconfig = "";
  const namespace = uniqueK8sName("chart");
  const createdCrds: string[] = [];

  const template = async (...args: string[]): Promise<K8sObject[]> =>
    parse(
      ok(
        await exec(helm, ["template", "switchboard", chart, "--namespace", namespace, ...args]),
        "helm template",
      ),
    );
  const kube = (args: string[], input?: string) =>
    exec(kubectl ?? "kubectl", ["--kubeconfig", kubeconfig, ...args], input);

  before(
    () => {
      helm =
        process.env.SB_HELM ??
        execFileSync(`${repo}hack/helm.sh`, ["path"], {
          encoding: "utf8",
          timeout: 1_800_000,
        }).trim();
    },
    { timeout: 1_860_000 },
  );

  after(async () => {
    if (kubectl === undefined) return;
    await kube(["delete", "namespace", namespace, "--wait=false"]);
    for (const crd of createdCrds) await kube(["delete", "crd", crd, "--wait=false"]);
  });

  it("passes helm lint --strict with its defaults and with every option on", async () => {
    ok(await exec(helm, ["lint", "--strict", chart]), "helm lint (defaults)");
    ok(await exec(helm, ["lint", "--strict", chart, ...everything]), "helm lint (everything)");
  });

  it("renders only the operator by default: RBAC, ServiceAccount, metrics Service, Deployment", async () => {
    const objects = await template();
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ClusterRole/switchboard-operator",
      "ClusterRoleBinding/switchboard-operator",
      "Deployment/switchboard-operator",
      "Role/switchboard-operator-leader-election",
      "RoleBinding/switchboard-operator-leader-election",
      "Service/switchboard-operator-metrics",
      "ServiceAccount/switchboard-operator",
    ]);
  });

  it("runs a hardened operator whose env the operator's own config reader accepts", async () => {
    const deployment = one(await template(), "Deployment") as unknown as V1Deployment;
    const pod = deployment.spec?.template.spec;
    assert.ok(pod);
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.runAsUser, 10001);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    const c = pod.containers[0] as V1Container;
    assert.match(c.image ?? "", /^ghcr\.io\/switchboard\/operator:\d+\.\d+\.\d+/);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
    assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
    assert.ok(pod.volumes?.some((v) => v.name === "tmp" && v.emptyDir !== undefined));

    // the env as the kubelet would fill it, through the operator's real reader
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] =
        e.value ??
        (field === "metadata.name"
          ? "switchboard-operator-abc12"
          : field === "metadata.namespace"
            ? namespace
            : "");
    }
    const reader = new EnvReader(env);
    const settings = readOperatorSettings(reader);
    reader.done();
    assert.equal(settings.watchNamespace, undefined, "empty watchNamespace: every namespace");
    assert.equal(settings.lease.namespace, namespace, "the Lease lives in the release namespace");
    assert.equal(settings.identity, "switchboard-operator-abc12");

    // the probes and the Service reach the port the operator listens on
    const http = c.ports?.find((p) => p.name === "http");
    assert.equal(http?.containerPort, settings.port);
    assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(c.startupProbe?.httpGet?.path, "/healthz");
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      assert.equal(probe?.httpGet?.port, "http");
    }
  });

  it("defaults to the image tag the builds use: package.json's version, as the example's", async () => {
    const version = (
      JSON.parse(await readFile(`${repo}package.json`, "utf8")) as { version: string }
    ).version;
    const chartYaml = parse(await readFile(`${chart}/Chart.yaml`, "utf8"))[0] as unknown as {
      appVersion: string;
    };
    assert.equal(chartYaml.appVersion, version);
    const example = parse(
      await readFile(`${repo}examples/chatcluster.yaml`, "utf8"),
    )[0] as unknown as {
      spec: { image: { tag: string } };
    };
    assert.equal(example.spec.image.tag, version);
  });

  it("installs the CRD file of crds/ as it is", async () => {
    const crds = byKind(await template("--include-crds"), "CustomResourceDefinition");
    assert.deepEqual(crds, parse(await readFile(crdFile, "utf8")));
  });

  it("renders the monitors, alert rules and three dashboards when every option is on", async () => {
    const objects = await template(...everything);
    const sm = one(objects, "ServiceMonitor") as K8sObject & {
      spec: { endpoints: { port: string }[] };
    };
    assert.equal(sm.metadata.labels?.release, "prometheus");
    assert.equal(sm.spec.endpoints[0]?.port, "http");
    one(objects, "PodMonitor");
    const rule = one(objects, "PrometheusRule") as K8sObject & {
      spec: { groups: { rules: { alert: string }[] }[] };
    };
    assert.deepEqual(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(), [
      "SwitchboardChatClusterDegraded",
      "SwitchboardForwarderFallingBehind",
      "SwitchboardForwarderLagGrowing",
      "SwitchboardMessagesNotStored",
      "SwitchboardNoReadyGateway",
      "SwitchboardNotifierFallingBehind",
      "SwitchboardOperatorNoLeader",
      "SwitchboardReconcileFailing",
    ]);
    const dashboards = byKind(objects, "ConfigMap");
    assert.deepEqual(dashboards.map((d) => d.metadata.name).sort(), [
      "switchboard-dashboard-forwarder",
      "switchboard-dashboard-gateway",
      "switchboard-dashboard-operator",
    ]);
    const uids = new Set<string>();
    for (const d of dashboards) {
      assert.equal(d.metadata.labels?.grafana_dashboard, "1");
      for (const json of Object.values(d.data as Record<string, string>)) {
        uids.add((JSON.parse(json) as { uid: string }).uid);
      }
    }
    assert.equal(uids.size, 3, "each dashboard has its own uid");
  });

  it("leaves out the workload alerts without the PodMonitor and the operator's without the ServiceMonitor", async () => {
    const objects = await template("--set", "prometheusRule.enabled=true");
    const rule = one(objects, "PrometheusRule") as K8sObject & {
      spec: { groups: { rules: { alert: string }[] }[] };
    };
    assert.deepEqual(
      rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)),
      ["SwitchboardNoReadyGateway"],
    );
  });

  it("scrapes the Pods the operator builds, on the port that serves their metrics", async () => {
    const pm = one(await template(...everything), "PodMonitor") as K8sObject & {
      spec: {
        selector: {
          matchLabels: Record<string, string>;
          matchExpressions: { key: string; operator: string; values: string[] }[];
        };
        namespaceSelector: { any?: boolean };
        podMetricsEndpoints: {
          port: string;
          path: string;
          relabelings: { sourceLabels: string[]; targetLabel: string }[];
        }[];
      };
    };
    assert.equal(pm.spec.namespaceSelector.any, true);
    const endpoint = pm.spec.podMetricsEndpoints[0];
    assert.ok(endpoint);
    assert.equal(endpoint.path, "/metrics");
    const sanitized = (label: string) =>
      `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    const cluster = exampleCluster();
    for (const component of COMPONENTS) {
      const pod = buildDeployment(cluster, component).spec?.template;
      const labels = pod?.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) {
        assert.equal(labels[k], v, `${component} Pods carry ${k}=${v}`);
      }
      for (const expr of pm.spec.selector.matchExpressions) {
        assert.equal(expr.operator, "In");
        assert.ok(
          expr.values.includes(labels[expr.key] ?? ""),
          `${component} is selected by ${expr.key}`,
        );
      }
      assert.ok(
        pod?.spec?.containers[0]?.ports?.some((p) => p.name === endpoint.port),
        `${component} has a port named ${endpoint.port}`,
      );
      // the relabelings read labels the Pods really carry
      for (const r of endpoint.relabelings) {
        const source = r.sourceLabels[0] ?? "";
        assert.ok(
          Object.keys(labels).some((l) => sanitized(l) === source),
          `${component} Pods have the label behind ${source}`,
        );
      }
    }
    assert.ok(
      endpoint.relabelings.some(
        (r) => r.sourceLabels[0] === sanitized(CLUSTER_LABEL) && r.targetLabel === "chatcluster",
      ),
    );
  });

  it("builds every dashboard panel and alert on metrics the code exports", async () => {
    const exported = await exportedMetricNames();
    const objects = await template(...everything);
    const exprs: { where: string; expr: string }[] = [];
    const rule = one(objects, "PrometheusRule") as K8sObject & {
      spec: { groups: { rules: { alert: string; expr: string }[] }[] };
    };
    for (const r of rule.spec.groups.flatMap((g) => g.rules))
      exprs.push({ where: r.alert, expr: r.expr });
    for (const cm of byKind(objects, "ConfigMap")) {
      for (const json of Object.values(cm.data as Record<string, string>)) {
        const d = JSON.parse(json) as {
          title: string;
          panels: { title: string; targets?: { expr: string }[] }[];
          templating: { list: { name: string; query?: { query: string } }[] };
        };
        for (const p of d.panels) {
          for (const t of p.targets ?? [])
            exprs.push({ where: `${d.title} / ${p.title}`, expr: t.expr });
        }
        for (const v of d.templating.list) {
          if (v.query?.query !== undefined) {
            const m = /^label_values\(([a-z_:][a-z0-9_:]*)/.exec(v.query.query);
            if (m?.[1] !== undefined) exprs.push({ where: `${d.title} / $${v.name}`, expr: m[1] });
          }
        }
      }
    }
    assert.ok(exprs.length > 40, `found ${exprs.length} expressions`);
    const used = new Set<string>();
    for (const { where, expr } of exprs) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${where}: no metric found in ${expr}`);
      for (const name of names) {
        used.add(name);
        assert.ok(
          exported.has(name) || external.has(name),
          `${where}: ${name} is not exported by the code`,
        );
      }
    }
    // and the parser above does find names: the metrics every dashboard stands on
    for (const name of [
      "switchboard_gateway_connections",
      "switchboard_forwarder_events_total",
      "switchboard_operator_reconciles_total",
    ]) {
      assert.ok(used.has(name), `${name} is used`);
    }
  });

  for (const [what, set, field] of [
    ["a count given as a word", "replicas=two", "replicas"],
    ["an unknown pull policy", "image.pullPolicy=Sometimes", "pullPolicy"],
    ["a flag given as a string", "metrics.serviceMonitor.enabled=yes", "enabled"],
    ["a duration Prometheus cannot read", "prometheusRule.for.noLeader=5minutes", "noLeader"],
    ["a key the chart does not know", "replica=3", "replica"],
    ["a port a non-root process cannot bind", "metrics.port=80", "port"],
  ] as const) {
    it(`refuses ${what} (${set}), naming the field`, async () => {
      const r = await exec(helm, ["template", "switchboard", chart, "--set", set]);
      assert.notEqual(r.code, 0, `helm template accepted --set ${set}`);
      assert.match(r.stderr, /schema/i);
      assert.match(r.stderr, new RegExp(field));
    });
  }

  it("is accepted by the API server as rendered, every option on (server-side dry run)", async () => {
    kubeconfig = kubeconfigPath();
    kubectl = kubectlPath();
    ok(await kube(["create", "namespace", namespace]), "create namespace");
    // the stand-in monitoring CRDs, where no real ones are installed
    for (const doc of parse(await readFile(monitoringCrds, "utf8"))) {
      const exists = await kube(["get", "crd", doc.metadata.name]);
      if (exists.code === 0) continue;
      ok(await kube(["create", "-f", "-"], JSON.stringify(doc)), `create ${doc.metadata.name}`);
      createdCrds.push(doc.metadata.name);
    }
    if (createdCrds.length > 0) {
      ok(
        await kube([
          "wait",
          "--for=condition=Established",
          "--timeout=60s",
          ...createdCrds.map((c) => `crd/${c}`),
        ]),
        "monitoring CRDs established",
      );
    }
    const rendered = ok(
      await exec(helm, [
        "template",
        "switchboard",
        chart,
        "--namespace",
        namespace,
        "--include-crds",
        ...everything,
      ]),
      "helm template",
    );
    const out = ok(
      await kube(
        ["apply", "--dry-run=server", "--validate=strict", "--namespace", namespace, "-f", "-"],
        rendered,
      ),
      "kubectl apply --dry-run=server",
    );
    const objects = parse(rendered);
    assert.ok(objects.length >= 14, `rendered ${objects.length} objects`);
    for (const o of objects) {
      const line = new RegExp(
        `/${o.metadata.name} (created|configured|unchanged) \\(server dry run\\)`,
      );
      assert.match(out, line, `${o.kind}/${o.metadata.name} was dry-run`);
    }
  });
});
