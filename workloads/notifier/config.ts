// The notifier's own settings, from the environment (beside readSharedSettings).
import type { EnvReader } from "#contract/env";
import { notifierGroupOf, readOptional, readSetting, SETTINGS } from "#contract/settings";
import { readListen } from "../shared/settings.ts";

export interface NotifierSettings {
  readonly port: number;
  readonly host: string;
  readonly groupId: string;
  /** the consumer group's static member name: the Pod name (as the forwarder's) */
  readonly instanceId: string | undefined;
}

export function readNotifierSettings(env: EnvReader, cluster: string): NotifierSettings {
  return {
    ...readListen(env, "notifier"),
    groupId: readSetting(env, SETTINGS.notifierGroupId, notifierGroupOf(cluster)),
    instanceId: readOptional(env, SETTINGS.podName),
  };
}
