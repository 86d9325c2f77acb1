// The forwarder process: `node workloads/forwarder/main.ts` (configuration from the environment).
// Its readiness has no store check: it acks while Cassandra is away (docs/decisions/0020).
import { runGroupMember } from "../shared/group-member.ts";
import { readForwarderSettings } from "./config.ts";
import { Forwarder } from "./forwarder.ts";

await runGroupMember({
  service: "forwarder",
  readSettings: readForwarderSettings,
  create: (deps) => new Forwarder(deps),
});
