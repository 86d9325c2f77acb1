// What the benchmark's child processes tell the orchestrator (over Node's IPC channel).
export type FromMember =
  | { t: "started"; at: number }
  | { t: "assign"; at: number; partitions: number[] }
  | { t: "batch"; at: number; partition: number; count: number; oldestSentAt: number };

export type FromProducer =
  | { t: "started"; at: number }
  | { t: "sequential"; at: number; latencies: number[] }
  | { t: "ack"; at: number; sentAt: number; latencyMs: number }
  | { t: "fail"; at: number; sentAt: number; error: string }
  | { t: "skipped"; at: number };
