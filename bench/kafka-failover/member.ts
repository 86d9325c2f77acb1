// A consumer-group member of the Kafka fail-over benchmark, run as a child process so that it
// can be SIGKILLed: `node member.ts <candidate> <brokers> <groupId> <topic> <instance>`.
// Reports its assignment and, per batch, how long its records waited since they were sent.
import { candidate } from "./clients.ts";
import type { FromMember } from "./messages.ts";

const [name = "", brokers = "", groupId = "", topic = "", instance = ""] = process.argv.slice(2);
const send = (m: FromMember) => process.send?.(m);
process.on("disconnect", () => process.exit(0)); // the orchestrator is gone

await candidate(name).member(brokers.split(","), groupId, topic, instance, {
  onAssignment: (partitions) =>
    send({ t: "assign", at: Date.now(), partitions: [...partitions].sort((a, b) => a - b) }),
  onBatch: ({ partition, values }) => {
    const at = Date.now();
    let oldest = at;
    for (const v of values) oldest = Math.min(oldest, Number(v.split(":")[0]));
    send({ t: "batch", at, partition, count: values.length, oldestSentAt: oldest });
  },
});
send({ t: "started", at: Date.now() });
