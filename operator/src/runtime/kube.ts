// The operator's one door to the API server: server-side apply under one field manager (owned
// objects and the status subresource), reads, deletes, finalizer patches, Secrets and Events.
// Every call has a timeout.
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import {
  API_VERSION,
  type ChatClusterStatus,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
} from "../api/schema.ts";
import type { ObjectRef } from "../reconcile/desired.ts";
import { FIELD_MANAGER } from "../reconcile/names.ts";

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

export async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const httpStatus = (err: unknown): number | undefined =>
  err instanceof ApiException ? err.code : undefined;

/** The API server's message of a failed call (e.g. a CEL rule's), or the error's. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message !== undefined) return parsed.message;
      } catch {
        return body;
      }
    }
    if (typeof body === "object" && body !== null && "message" in body) {
      return String((body as { message: unknown }).message);
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export interface KubeOptions {
  readonly requestTimeoutMs: number;
}

export class Kube {
  readonly config: KubeConfig;
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly #timeoutMs: number;

  constructor(kc: KubeConfig, opts: KubeOptions) {
    this.config = kc;
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.#timeoutMs = opts.requestTimeoutMs;
  }

  call<T>(what: string, p: Promise<T>): Promise<T> {
    return withTimeout(what, this.#timeoutMs, p);
  }

  /** The ChatCluster as the API server has it now, or undefined when it is gone. */
  async getChatCluster(namespace: string, name: string): Promise<unknown> {
    try {
      return await this.call(
        `get ChatCluster ${namespace}/${name}`,
        this.custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
        }),
      );
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async listChatClusters(namespace: string | undefined): Promise<{
    items: KubernetesObject[];
    metadata?: { resourceVersion?: string };
  }> {
    const base = { group: GROUP, version: VERSION, plural: PLURAL };
    return (await this.call(
      "list ChatClusters",
      namespace === undefined
        ? this.custom.listClusterCustomObject(base)
        : this.custom.listNamespacedCustomObject({ ...base, namespace }),
    )) as { items: KubernetesObject[] };
  }

  /** Server-side apply under the operator's field manager, taking over conflicting fields. */
  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.call(
      `apply ${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`,
      this.objects.patch(
        obj,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
  }

  /** Deletes the object; resolves false when it did not exist. */
  async deleteIfExists(ref: ObjectRef, namespace: string): Promise<boolean> {
    try {
      await this.call(
        `delete ${ref.kind} ${namespace}/${ref.name}`,
        this.objects.delete({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace },
        }),
      );
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw err;
    }
  }

  /** Server-side apply of the status subresource (the operator owns every status field). */
  async applyStatus(namespace: string, name: string, status: ChatClusterStatus): Promise<void> {
    await this.call(
      `apply status of ChatCluster ${namespace}/${name}`,
      this.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status },
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      ),
    );
  }

  /**
   * Replaces the finalizers, failing with 409 if the object changed since `resourceVersion`
   * was read (so a finalizer another controller added meanwhile is never dropped).
   */
  async setFinalizers(
    namespace: string,
    name: string,
    resourceVersion: string,
    finalizers: readonly string[],
  ): Promise<void> {
    await this.call(
      `patch finalizers of ChatCluster ${namespace}/${name}`,
      this.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body: { metadata: { resourceVersion, finalizers } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
  }

  /** One key of a Secret, or undefined when the Secret or the key is missing. */
  async secretValue(namespace: string, name: string, key: string): Promise<string | undefined> {
    try {
      const s = await this.call(
        `get Secret ${namespace}/${name}`,
        this.core.readNamespacedSecret({ namespace, name }),
      );
      const value = s.data?.[key];
      return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }
}
