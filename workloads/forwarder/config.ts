// The forwarder's own settings, from the environment (beside readSharedSettings).
import type { EnvReader } from "#contract/env";
import { forwarderGroupOf, readOptional, readSetting, SETTINGS } from "#contract/settings";
import { readListen } from "../shared/settings.ts";

export interface ForwarderSettings {
  readonly port: number;
  readonly host: string;
  readonly groupId: string;
  /**
   * the consumer group's static member name: the Pod name, so a forwarder restarted in its Pod
   * takes its partitions back without a rebalance (docs/decisions on the Kafka client)
   */
  readonly instanceId: string | undefined;
}

export function readForwarderSettings(env: EnvReader, cluster: string): ForwarderSettings {
  return {
    ...readListen(env, "forwarder"),
    groupId: readSetting(env, SETTINGS.forwarderGroupId, forwarderGroupOf(cluster)),
    instanceId: readOptional(env, SETTINGS.podName),
  };
}
