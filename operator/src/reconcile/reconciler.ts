// One reconcile of one ChatCluster: a straight chain of steps (re-read, parse, finalize or
// add the finalizer, credentials, Kafka topics, Cassandra schema, owned objects), each
// returning a StepResult; whatever happened, the status is then written from what was observed.
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import type { SASLOptions } from "kafkajs";
import type { Logger } from "pino";
import { ConditionType, findCondition, Reason } from "../api/conditions.ts";
import { keyspaceOf, type ParsedChatCluster, parseChatCluster } from "../api/parse.ts";
import type { EventRecorder, EventTarget } from "../runtime/events.ts";
import { apiMessage, httpStatus, type Kube } from "../runtime/kube.ts";
import {
  type CassandraAccess,
  type CassandraClients,
  isUnreachable as cassandraUnreachable,
  dropKeyspace,
  ensureSchema,
} from "./cassandra.ts";
import { desiredState } from "./desired.ts";
import { judgeDurability, readDurabilityFacts } from "./durability.ts";
import {
  type KafkaAccess,
  type KafkaTimeouts,
  isUnreachable as kafkaUnreachable,
  TopicAdmin,
} from "./kafka.ts";
import { COMPONENTS, type Component, componentName, FINALIZER } from "./names.ts";
import { type BucketCheck, bucketCheck, type ObjectStoreAccess } from "./object-store.ts";
import { done, errorMessage, failed, proceed, runSteps, type StepResult } from "./result.ts";
import { computeStatus, type DeploymentObservation, type Observations } from "./status.ts";
import { describeAction, describeProblem, desiredTopics, planTopics } from "./topics.ts";
import { OBJECT_STORE_KEYS } from "./workloads.ts";

export interface ReconcilerDeps {
  readonly kube: Kube;
  readonly events: EventRecorder;
  readonly cassandra: CassandraClients;
  readonly kafkaTimeouts: KafkaTimeouts;
  readonly log: Logger;
  readonly now: () => Date;
  /** HeadBucket of spec.objectStore (default: on the real store, 5 s timeout) */
  readonly checkBucket?: BucketCheck;
  /** the conditions a status write set, and the ChatCluster once finalized (its metrics go) */
  readonly onConditions?: (
    namespace: string,
    name: string,
    conditions: readonly { readonly type: string; readonly status: string }[] | undefined,
  ) => void;
}

interface Credentials {
  readonly kafka: KafkaAccess;
  readonly cassandra: CassandraAccess;
  readonly objectStore: ObjectStoreAccess | undefined;
}

class MissingSecret extends Error {}

export class Reconciler {
  readonly #d: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(namespace: string, name: string): Promise<StepResult> {
    const raw = (await this.#d.kube.getChatCluster(namespace, name)) as
      | KubernetesObject
      | undefined;
    if (raw === undefined) return done; // gone: its owned objects go by garbage collection
    const parsed = parseChatCluster(raw);
    if (!parsed.ok) return this.#invalid(raw, parsed.message);
    const c = parsed.value;
    const resourceVersion = raw.metadata?.resourceVersion ?? "";
    const target: EventTarget = { name: c.name, namespace: c.namespace, uid: c.uid };
    if (c.deleting) return this.#finalize(c, resourceVersion, target);

    const o: Observations = {};
    let creds: Credentials | undefined;
    const result = await runSteps([
      ["finalizer", () => this.#ensureFinalizer(c, resourceVersion)],
      [
        "credentials",
        async () => {
          try {
            creds = await this.#credentials(c);
            return proceed;
          } catch (err) {
            if (!(err instanceof MissingSecret)) throw err;
            o.apply = { ok: false, reason: Reason.SecretMissing, message: err.message };
            return failed("credentials", err.message);
          }
        },
      ],
      ["kafka", () => this.#topics(c, creds as Credentials, o, target)],
      ["cassandra", () => this.#schema(c, creds as Credentials, o, target)],
      ["object store", () => this.#objectStore(c, creds as Credentials, o, target)],
      ["workloads", () => this.#workloads(c, o)],
    ]);
    if (result.kind === "error" && ![o.kafka, o.cassandra, o.apply].some((x) => x?.ok === false)) {
      // a step failed before it could say why in its own terms (e.g. the API server refused)
      o.apply = {
        ok: false,
        reason: Reason.ReconcileFailed,
        message: `${result.step}: ${result.message}`,
      };
    }
    await this.#writeStatus(c, o, target);
    return result;
  }

  async #invalid(raw: KubernetesObject, message: string): Promise<StepResult> {
    const { name = "", namespace = "" } = raw.metadata ?? {};
    this.#d.log.warn({ namespace, name, message }, "invalid ChatCluster");
    const now = this.#d
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    await this.#d.kube.applyStatus(namespace, name, {
      observedGeneration: raw.metadata?.generation ?? 0,
      conditions: [
        {
          type: ConditionType.Degraded,
          status: "True",
          reason: Reason.InvalidSpec,
          message,
          lastTransitionTime: now,
          observedGeneration: raw.metadata?.generation ?? 0,
        },
      ],
    });
    return done; // nothing to retry until the spec changes
  }

  async #ensureFinalizer(c: ParsedChatCluster, resourceVersion: string): Promise<StepResult> {
    if (c.finalizers.includes(FINALIZER)) return proceed;
    await this.#d.kube.setFinalizers(c.namespace, c.name, resourceVersion, [
      ...c.finalizers,
      FINALIZER,
    ]);
    return proceed;
  }

  async #credentials(c: ParsedChatCluster): Promise<Credentials> {
    const secret = async (ref: { name: string; key: string }, what: string) => {
      const v = await this.#d.kube.secretValue(c.namespace, ref.name, ref.key);
      if (v === undefined) {
        throw new MissingSecret(
          `${what}: key ${ref.key} of Secret ${c.namespace}/${ref.name} is missing; create it`,
        );
      }
      return v;
    };
    const { kafka, cassandra } = c.spec;
    let ssl: KafkaAccess["ssl"];
    if (kafka.tls?.enabled === true) {
      ssl =
        kafka.tls.caSecretRef === undefined
          ? true
          : { ca: [await secret(kafka.tls.caSecretRef, "kafka.tls.caSecretRef")] };
    }
    let sasl: SASLOptions | undefined;
    if (kafka.sasl !== undefined) {
      const username = await secret(kafka.sasl.usernameSecretRef, "kafka.sasl.usernameSecretRef");
      const password = await secret(kafka.sasl.passwordSecretRef, "kafka.sasl.passwordSecretRef");
      sasl = { mechanism: kafka.sasl.mechanism, username, password } as SASLOptions;
    }
    const credsRef = cassandra.credentialsSecretRef;
    const cassandraCreds =
      credsRef === undefined
        ? {}
        : {
            username: await secret(
              { name: credsRef.name, key: "username" },
              "cassandra.credentialsSecretRef",
            ),
            password: await secret(
              { name: credsRef.name, key: "password" },
              "cassandra.credentialsSecretRef",
            ),
          };
    const store = c.spec.objectStore;
    const objectStore =
      store === undefined
        ? undefined
        : {
            endpoint: store.endpoint,
            region: store.region,
            bucket: store.bucket,
            forcePathStyle: store.forcePathStyle,
            accessKeyId: await secret(
              { name: store.credentialsSecretRef.name, key: OBJECT_STORE_KEYS.accessKeyId },
              "objectStore.credentialsSecretRef",
            ),
            secretAccessKey: await secret(
              { name: store.credentialsSecretRef.name, key: OBJECT_STORE_KEYS.secretAccessKey },
              "objectStore.credentialsSecretRef",
            ),
          };
    return {
      objectStore,
      kafka: {
        brokers: kafka.bootstrapServers,
        ...(ssl !== undefined && { ssl }),
        ...(sasl !== undefined && { sasl }),
      },
      cassandra: {
        contactPoints: cassandra.contactPoints,
        localDataCenter: cassandra.localDatacenter,
        ...cassandraCreds,
      },
    };
  }

  async #topics(
    c: ParsedChatCluster,
    creds: Credentials,
    o: Observations,
    target: EventTarget,
  ): Promise<StepResult> {
    const desired = desiredTopics(c);
    const names = desired.map((t) => t.name);
    let admin: TopicAdmin | undefined;
    try {
      admin = await TopicAdmin.connect(creds.kafka, this.#d.kafkaTimeouts, this.#d.log);
      const plan = planTopics(desired, await admin.observe(names));
      for (const action of plan.actions) {
        await admin.perform(action);
        const message = describeAction(action);
        this.#d.log.info({ namespace: c.namespace, name: c.name }, message);
        await this.#d.events.normal(
          target,
          action.kind === "create"
            ? "TopicCreated"
            : action.kind === "grow"
              ? "PartitionsGrown"
              : "TopicConfigCorrected",
          message,
        );
      }
      const problem = plan.problems[0];
      if (problem === undefined) {
        o.kafka = {
          ok: true,
          reason: Reason.TopicsReady,
          message: `topics ready: ${names.join(", ")}`,
          topics: names,
        };
        return proceed;
      }
      const reason =
        problem.kind === "shrink"
          ? Reason.PartitionShrinkRefused
          : Reason.ReplicationFactorMismatch;
      const message = plan.problems.map(describeProblem).join("; ");
      if (findCondition(c.status.conditions, ConditionType.KafkaTopicsReady)?.reason !== reason) {
        await this.#d.events.warning(target, reason, message);
      }
      o.kafka = { ok: false, reason, message, topics: names };
      return proceed; // the topics work as they are: the rest of the cluster can still converge
    } catch (err) {
      const unreachable = kafkaUnreachable(err);
      const reason = unreachable ? Reason.KafkaUnreachable : Reason.KafkaError;
      const message = unreachable
        ? `cannot reach Kafka at ${creds.kafka.brokers.join(",")}: ${errorMessage(err)}; check kafka.bootstrapServers and the network; retrying with backoff`
        : `Kafka refused a topic operation: ${errorMessage(err)}`;
      if (findCondition(c.status.conditions, ConditionType.KafkaTopicsReady)?.reason !== reason) {
        await this.#d.events.warning(target, reason, message);
      }
      o.kafka = { ok: false, reason, message };
      return failed("kafka", message);
    } finally {
      await admin?.close();
    }
  }

  async #schema(
    c: ParsedChatCluster,
    creds: Credentials,
    o: Observations,
    target: EventTarget,
  ): Promise<StepResult> {
    const keyspace = keyspaceOf(c);
    const t = this.#d.cassandra.timeouts;
    const unreachable = (err: unknown): StepResult => {
      const message = `cannot reach Cassandra at ${creds.cassandra.contactPoints.join(",")}: ${errorMessage(err)}; check cassandra.contactPoints and localDatacenter; retrying with backoff`;
      o.cassandra = { ok: false, reason: Reason.CassandraUnreachable, message, keyspace };
      return failed("cassandra", message);
    };
    let result: Awaited<ReturnType<typeof ensureSchema>>;
    try {
      const client = await this.#d.cassandra.client(creds.cassandra);
      result = await ensureSchema(client, c, keyspace, t, (m) =>
        this.#d.log.info({ namespace: c.namespace, name: c.name, keyspace }, m),
      );
    } catch (err) {
      await this.#d.cassandra.evict(creds.cassandra);
      const r = unreachable(err);
      await this.#warnOnFlip(
        c,
        ConditionType.CassandraSchemaReady,
        Reason.CassandraUnreachable,
        target,
        o.cassandra?.message ?? "",
      );
      return r;
    }
    if (!result.ok) {
      await this.#d.cassandra.evict(creds.cassandra);
      if (
        result.error.code === "MIGRATION_CASSANDRA_ERROR" &&
        cassandraUnreachable(result.error.cause)
      ) {
        const r = unreachable(result.error.cause);
        await this.#warnOnFlip(
          c,
          ConditionType.CassandraSchemaReady,
          Reason.CassandraUnreachable,
          target,
          o.cassandra?.message ?? "",
        );
        return r;
      }
      const message = `migrating keyspace ${keyspace} failed: ${result.error.code}: ${result.error.message}`;
      o.cassandra = { ok: false, reason: Reason.MigrationFailed, message, keyspace };
      await this.#warnOnFlip(
        c,
        ConditionType.CassandraSchemaReady,
        Reason.MigrationFailed,
        target,
        message,
      );
      return failed("cassandra", message);
    }
    const { version, applied } = result.value;
    if (applied.length > 0) {
      await this.#d.events.normal(
        target,
        "MigrationsApplied",
        `keyspace ${keyspace}: applied ${applied.map((a) => `${String(a.version).padStart(4, "0")}_${a.name}`).join(", ")}; now at version ${version}`,
      );
    }
    await this.#durability(c, creds, keyspace, o, target);
    o.cassandra = {
      ok: true,
      reason: Reason.SchemaReady,
      message: `keyspace ${keyspace} is at schema version ${version}`,
      schemaVersion: version,
      keyspace,
    };
    return proceed;
  }

  /** Reports (never blocks on) whether Cassandra's settings keep acknowledged writes. */
  async #durability(
    c: ParsedChatCluster,
    creds: Credentials,
    keyspace: string,
    o: Observations,
    target: EventTarget,
  ): Promise<void> {
    try {
      const client = await this.#d.cassandra.client(creds.cassandra);
      const facts = await readDurabilityFacts(
        client,
        keyspace,
        creds.cassandra.localDataCenter,
        this.#d.cassandra.timeouts.requestTimeoutMs,
      );
      o.durability = judgeDurability(facts);
    } catch (err) {
      o.durability = {
        ok: false,
        known: false,
        reason: Reason.DurabilityUnknown,
        message: `cannot read Cassandra's durability settings: ${errorMessage(err)}`,
      };
    }
    if (!o.durability.ok) {
      await this.#warnOnFlip(
        c,
        ConditionType.AcknowledgedWritesDurable,
        o.durability.reason,
        target,
        o.durability.message,
      );
    }
  }

  /** Checks spec.objectStore's bucket; reported as ObjectStoreReady, never stopping the chain. */
  async #objectStore(
    c: ParsedChatCluster,
    creds: Credentials,
    o: Observations,
    target: EventTarget,
  ): Promise<StepResult> {
    if (creds.objectStore === undefined) return proceed;
    o.objectStore = await (this.#d.checkBucket ?? bucketCheck())(creds.objectStore);
    if (!o.objectStore.ok) {
      await this.#warnOnFlip(
        c,
        ConditionType.ObjectStoreReady,
        o.objectStore.reason,
        target,
        o.objectStore.message,
      );
    }
    return proceed;
  }

  async #warnOnFlip(
    c: ParsedChatCluster,
    type: ConditionType,
    reason: string,
    target: EventTarget,
    message: string,
  ) {
    if (findCondition(c.status.conditions, type)?.reason !== reason) {
      await this.#d.events.warning(target, reason, message);
    }
  }

  async #workloads(c: ParsedChatCluster, o: Observations): Promise<StepResult> {
    const desired = desiredState(c);
    const deployments = new Map<string, V1Deployment>();
    try {
      for (const obj of desired.apply) {
        const applied = await this.#d.kube.apply(obj);
        if (obj.kind === "Deployment")
          deployments.set(obj.metadata?.name ?? "", applied as V1Deployment);
      }
      for (const ref of desired.absent) await this.#d.kube.deleteIfExists(ref, c.namespace);
    } catch (err) {
      const message = `applying the owned objects failed (HTTP ${httpStatus(err) ?? "?"}): ${apiMessage(err)}`;
      o.apply = { ok: false, reason: Reason.ApplyFailed, message };
      return failed("workloads", message);
    }
    const observed = {} as Record<Component, DeploymentObservation>;
    for (const k of COMPONENTS) {
      const d = deployments.get(componentName(c, k));
      const generation = d?.metadata?.generation ?? 0;
      observed[k] = {
        desired: d?.spec?.replicas ?? 0,
        ready: d?.status?.readyReplicas ?? 0,
        updated: d?.status?.updatedReplicas ?? 0,
        observed: (d?.status?.observedGeneration ?? 0) >= generation,
      };
    }
    o.deployments = observed;
    return proceed;
  }

  async #writeStatus(c: ParsedChatCluster, o: Observations, target: EventTarget): Promise<void> {
    const status = computeStatus(c, o, this.#d.now());
    const before = findCondition(c.status.conditions, ConditionType.Ready)?.status;
    const after = findCondition(status.conditions, ConditionType.Ready)?.status;
    await this.#d.kube.applyStatus(c.namespace, c.name, status);
    this.#d.onConditions?.(c.namespace, c.name, status.conditions ?? []);
    if (before !== "True" && after === "True") {
      await this.#d.events.normal(target, "Ready", "every component is ready");
    }
  }

  async #finalize(
    c: ParsedChatCluster,
    resourceVersion: string,
    target: EventTarget,
  ): Promise<StepResult> {
    if (!c.finalizers.includes(FINALIZER)) return done;
    if (c.spec.deletionPolicy === "Delete") {
      const creds = await this.#credentials(c);
      const keyspace = keyspaceOf(c);
      const names = desiredTopics(c).map((t) => t.name);
      try {
        const admin = await TopicAdmin.connect(creds.kafka, this.#d.kafkaTimeouts, this.#d.log);
        try {
          const deleted = await admin.delete(names);
          if (deleted.length > 0)
            await this.#d.events.normal(
              target,
              "TopicsDeleted",
              `deleted topics ${deleted.join(", ")} (deletionPolicy Delete)`,
            );
        } finally {
          await admin.close();
        }
        const client = await this.#d.cassandra.client(creds.cassandra);
        await dropKeyspace(client, keyspace, this.#d.cassandra.timeouts.requestTimeoutMs);
        await this.#d.events.normal(
          target,
          "KeyspaceDropped",
          `dropped keyspace ${keyspace} (deletionPolicy Delete)`,
        );
      } catch (err) {
        const message = `deletionPolicy Delete: could not remove topics/keyspace: ${errorMessage(err)}; the finalizer stays until it succeeds`;
        await this.#d.events.warning(target, Reason.Deleting, message);
        return failed("finalize", message);
      }
    }
    await this.#d.kube.setFinalizers(
      c.namespace,
      c.name,
      resourceVersion,
      c.finalizers.filter((f) => f !== FINALIZER),
    );
    this.#d.onConditions?.(c.namespace, c.name, undefined);
    this.#d.log.info(
      { namespace: c.namespace, name: c.name, policy: c.spec.deletionPolicy },
      "finalized",
    );
    return done;
  }
}
