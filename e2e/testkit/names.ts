// Unique names so suites running in parallel, or twice against one stack, never collide.
import { randomBytes } from "node:crypto";

/** A name valid as a Kafka topic, Cassandra keyspace, Redis key prefix and DNS label. */
export function uniqueName(prefix: string): string {
  const suffix = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  return `${prefix}_${suffix}`.toLowerCase();
}

/** Like uniqueName, with dashes, for Kubernetes object names (DNS-1123 labels). */
export function uniqueK8sName(prefix: string): string {
  return uniqueName(prefix).replaceAll("_", "-");
}
