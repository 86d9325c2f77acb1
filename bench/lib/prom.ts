// Reads the workloads' own Prometheus histograms (/metrics) so a benchmark can say which stage
// of the path the latency went to: mean = Δsum / Δcount between two scrapes.

export type Scrape = Map<string, number>;

export async function scrape(urls: readonly string[]): Promise<Scrape> {
  const total: Scrape = new Map();
  await Promise.all(
    urls.map(async (u) => {
      const res = await fetch(`${u}/metrics`, { signal: AbortSignal.timeout(10_000) });
      for (const line of (await res.text()).split("\n")) {
        if (line.startsWith("#") || !/_(sum|count)(\{|\s)/.test(line)) continue;
        const i = line.lastIndexOf(" ");
        const key = line.slice(0, i);
        total.set(key, (total.get(key) ?? 0) + Number(line.slice(i + 1)));
      }
    }),
  );
  return total;
}

/** Mean in ms and count of each histogram (by series) between two scrapes. */
export function stageMeans(
  before: Scrape,
  after: Scrape,
  series: Record<string, string>,
): Record<string, { meanMs: number; count: number }> {
  const out: Record<string, { meanMs: number; count: number }> = {};
  for (const [label, s] of Object.entries(series)) {
    const [name, labels = ""] = s.split("|");
    const key = (suffix: string) => `${name}_${suffix}${labels === "" ? "" : `{${labels}}`}`;
    const sum = (after.get(key("sum")) ?? 0) - (before.get(key("sum")) ?? 0);
    const count = (after.get(key("count")) ?? 0) - (before.get(key("count")) ?? 0);
    out[label] = {
      meanMs: count === 0 ? Number.NaN : Math.round((sum / count) * 1e5) / 100,
      count,
    };
  }
  return out;
}

/** The stages of a message's path the workloads time themselves. */
export const pathStages: Record<string, string> = {
  "gateway: Kafka produce (acks=all)": "switchboard_bus_produce_seconds",
  "forwarder: one consumed batch (persist + route)": "switchboard_forwarder_batch_seconds",
  "forwarder: Cassandra persist": 'switchboard_store_seconds|op="persist"',
  "forwarder: Redis gateways for room": 'switchboard_registry_seconds|op="gateways_for_room"',
  "gateway receive → gateway write to receiver": "switchboard_delivery_latency_seconds",
};
