// Informers (list + watch) on ChatCluster and on every kind it owns. A ChatCluster event
// enqueues its key unless only its status changed (our own status writes would otherwise
// reconcile it again); an owned object's event enqueues the ChatCluster named by its
// controller owner reference. A watch that fails is restarted with a capped backoff.
import {
  type KubeConfig,
  type KubernetesObject,
  type KubernetesObjectApi,
  makeInformer,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { GROUP, KIND, PLURAL, VERSION } from "../api/schema.ts";
import { OWNED_KINDS } from "../reconcile/desired.ts";
import { FIELD_MANAGER, MANAGED_BY } from "../reconcile/names.ts";
import type { Kube } from "./kube.ts";
import { backoffMs } from "./queue.ts";

type Informer = ReturnType<typeof makeInformer<KubernetesObject>>;
interface WatchEntry {
  readonly kind: string;
  readonly informer: Informer;
  restarts: number;
  timer?: NodeJS.Timeout;
}

export const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function pathOf(apiVersion: string, plural: string, namespace: string | undefined): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace === undefined
    ? `${base}/${plural}`
    : `${base}/namespaces/${namespace}/${plural}`;
}

/** The ChatCluster key an owned object points at, if any. */
export function ownerKey(obj: KubernetesObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find(
    (o) => o.controller === true && o.kind === KIND && o.apiVersion.startsWith(`${GROUP}/`),
  );
  const ns = obj.metadata?.namespace;
  return ref === undefined || ns === undefined ? undefined : keyOf(ns, ref.name);
}

/** Whether a ChatCluster update is worth a reconcile: anything but a status-only change. */
export function specOrMetaChanged(
  before: KubernetesObject | undefined,
  after: KubernetesObject,
): boolean {
  if (before === undefined) return true;
  const m0 = before.metadata ?? {};
  const m1 = after.metadata ?? {};
  return (
    m0.generation !== m1.generation ||
    String(m0.deletionTimestamp ?? "") !== String(m1.deletionTimestamp ?? "") ||
    JSON.stringify(m0.finalizers ?? []) !== JSON.stringify(m1.finalizers ?? []) ||
    JSON.stringify(m0.labels ?? {}) !== JSON.stringify(m1.labels ?? {})
  );
}

export interface WatchOptions {
  readonly kube: Kube;
  readonly namespace: string | undefined;
  readonly log: Logger;
  readonly enqueue: (key: string) => void;
  readonly onRestart: (kind: string) => void;
  readonly maxRestartDelayMs: number;
}

export class Watches {
  readonly #o: WatchOptions;
  readonly #informers: WatchEntry[] = [];
  readonly #seen = new Map<string, KubernetesObject>();
  #stopped = false;
  #chatClusters: Informer | undefined;

  constructor(o: WatchOptions) {
    this.#o = o;
  }

  /** Every ChatCluster key in the cache (for the periodic resync). */
  keys(): string[] {
    return (this.#chatClusters?.list() ?? []).map((c) =>
      keyOf(c.metadata?.namespace ?? "", c.metadata?.name ?? ""),
    );
  }

  async start(): Promise<void> {
    const { kube, namespace } = this.#o;
    const kc: KubeConfig = kube.config;
    const cc = makeInformer<KubernetesObject>(
      kc,
      pathOf(`${GROUP}/${VERSION}`, PLURAL, namespace),
      () => kube.listChatClusters(namespace) as never,
    );
    const onCluster = (obj: KubernetesObject) => {
      const key = keyOf(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
      const before = this.#seen.get(key);
      this.#seen.set(key, obj);
      if (specOrMetaChanged(before, obj)) this.#o.enqueue(key);
    };
    cc.on("add", onCluster);
    cc.on("update", onCluster);
    cc.on("delete", (obj) => {
      const key = keyOf(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
      this.#seen.delete(key);
      this.#o.enqueue(key);
    });
    this.#chatClusters = cc;
    this.#add(KIND, cc);

    const objects: KubernetesObjectApi = kube.objects;
    const selector = `${MANAGED_BY}=${FIELD_MANAGER}`;
    for (const k of OWNED_KINDS) {
      const informer = makeInformer<KubernetesObject>(
        kc,
        pathOf(k.apiVersion, k.plural, namespace),
        () =>
          objects.list(
            k.apiVersion,
            k.kind,
            namespace,
            undefined,
            undefined,
            undefined,
            undefined,
            selector,
          ) as never,
        selector,
      );
      const onOwned = (obj: KubernetesObject) => {
        const key = ownerKey(obj);
        if (key !== undefined) this.#o.enqueue(key);
      };
      informer.on("add", onOwned);
      informer.on("update", onOwned);
      informer.on("delete", onOwned);
      this.#add(k.kind, informer);
    }
    await Promise.all(this.#informers.map((i) => i.informer.start()));
  }

  #add(kind: string, informer: Informer): void {
    const entry: WatchEntry = { kind, informer, restarts: 0 };
    informer.on("connect", () => {
      entry.restarts = 0;
    });
    informer.on("error", (err: unknown) => {
      if (this.#stopped) return;
      entry.restarts++;
      const delay = backoffMs(entry.restarts, 200, this.#o.maxRestartDelayMs);
      this.#o.log.warn({ kind, err: String(err), delay }, "watch failed: restarting");
      this.#o.onRestart(kind);
      entry.timer = setTimeout(() => {
        if (!this.#stopped) informer.start().catch(() => undefined);
      }, delay);
      entry.timer.unref();
    });
    this.#informers.push(entry);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const i of this.#informers) clearTimeout(i.timer);
    await Promise.all(this.#informers.map((i) => i.informer.stop().catch(() => undefined)));
  }
}
