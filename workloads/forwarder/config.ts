// The forwarder's own settings, from the environment (beside readSharedSettings).
import type { EnvReader } from "#contract/env";
import { forwarderGroupOf, readSetting, SETTINGS } from "#contract/settings";
import { readListen } from "../shared/settings.ts";

export interface ForwarderSettings {
  readonly port: number;
  readonly host: string;
  readonly groupId: string;
}

export function readForwarderSettings(env: EnvReader, cluster: string): ForwarderSettings {
  return {
    ...readListen(env, "forwarder"),
    groupId: readSetting(env, SETTINGS.forwarderGroupId, forwarderGroupOf(cluster)),
  };
}
