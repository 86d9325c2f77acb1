// The notifier process: `node workloads/notifier/main.ts` (configuration from the environment).
import { runGroupMember } from "../shared/group-member.ts";
import { readNotifierSettings } from "./config.ts";
import { Notifier } from "./notifier.ts";

await runGroupMember({
  service: "notifier",
  readSettings: readNotifierSettings,
  create: (deps) => new Notifier(deps),
  checks: (backends) => [{ name: "cassandra", check: () => backends.store.ping() }],
});
