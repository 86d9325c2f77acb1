// Kubernetes Events on the ChatCluster for each notable action (topic created, partitions
// grown, migrations applied, a shrink refused, a backend unreachable). A failed Event never
// fails a reconcile: it is logged and dropped.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { API_VERSION, KIND } from "../api/schema.ts";
import { FIELD_MANAGER } from "../reconcile/names.ts";
import type { Kube } from "./kube.ts";

export interface EventTarget {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface EventRecorder {
  normal(target: EventTarget, reason: string, message: string): Promise<void>;
  warning(target: EventTarget, reason: string, message: string): Promise<void>;
}

export class KubeEventRecorder implements EventRecorder {
  readonly #kube: Kube;
  readonly #log: Logger;
  readonly #instance: string;

  constructor(kube: Kube, log: Logger, instance: string) {
    this.#kube = kube;
    this.#log = log;
    this.#instance = instance;
  }

  normal(target: EventTarget, reason: string, message: string): Promise<void> {
    return this.#record(target, "Normal", reason, message);
  }

  warning(target: EventTarget, reason: string, message: string): Promise<void> {
    return this.#record(target, "Warning", reason, message);
  }

  async #record(t: EventTarget, type: string, reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      await this.#kube.call(
        "create Event",
        this.#kube.core.createNamespacedEvent({
          namespace: t.namespace,
          body: {
            metadata: {
              name: `${t.name}.${randomBytes(8).toString("hex")}`,
              namespace: t.namespace,
            },
            involvedObject: {
              apiVersion: API_VERSION,
              kind: KIND,
              name: t.name,
              namespace: t.namespace,
              uid: t.uid,
            },
            type,
            reason,
            message: message.slice(0, 1024),
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
            source: { component: FIELD_MANAGER },
            reportingComponent: FIELD_MANAGER,
            reportingInstance: this.#instance,
          },
        }),
      );
    } catch (err) {
      this.#log.warn({ err, reason }, "could not record an Event");
    }
  }
}
