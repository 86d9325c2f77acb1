// The producer of the Kafka fail-over benchmark, a child process:
// `node producer.ts <candidate> <brokers> <topic> <rate per second> <keys> <sequential sends>`.
// First sends records one after the other, each after the previous one's acknowledgement (the
// client's own latency, reported as one list), then one record at a time on a fixed schedule (open loop, at most MAX_OUTSTANDING waiting),
// the value being "<sent at ms>:<n>", and reports each acknowledgement with its latency.
import { candidate } from "./clients.ts";
import type { FromProducer } from "./messages.ts";

const MAX_OUTSTANDING = 2_000;
const [name = "", brokers = "", topic = "", rate = "100", keys = "60", sequential = "300"] =
  process.argv.slice(2);
const send = (m: FromProducer) => process.send?.(m);
process.on("disconnect", () => process.exit(0)); // the orchestrator is gone

const produce = await candidate(name).producer(brokers.split(","), topic);
const latencies: number[] = [];
for (let i = 0; i < Number(sequential); i++) {
  const t0 = performance.now();
  await produce(`room-${i % Number(keys)}`, `${Date.now()}:seq${i}`);
  latencies.push(performance.now() - t0);
}
send({ t: "sequential", at: Date.now(), latencies });
const interval = 1000 / Number(rate);
let n = 0;
let outstanding = 0;
const started = performance.now();
send({ t: "started", at: Date.now() });
const tick = (): void => {
  const due = Math.floor((performance.now() - started) / interval);
  while (n < due) {
    n++;
    if (outstanding >= MAX_OUTSTANDING) {
      send({ t: "skipped", at: Date.now() });
      continue;
    }
    const sentAt = Date.now();
    const t0 = performance.now();
    outstanding++;
    produce(`room-${n % Number(keys)}`, `${sentAt}:${n}`)
      .then(
        () => send({ t: "ack", at: Date.now(), sentAt, latencyMs: performance.now() - t0 }),
        (err: unknown) =>
          send({ t: "fail", at: Date.now(), sentAt, error: String(err).slice(0, 200) }),
      )
      .finally(() => outstanding--);
  }
};
setInterval(tick, Math.max(1, Math.floor(interval / 2)));
