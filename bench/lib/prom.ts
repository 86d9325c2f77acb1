// Reads the workloads' own Prometheus histograms (/metrics) so a benchmark can say which stage
// of the path the latency went to: mean = Δsum / Δcount between two scrapes.

export type Scrape = Map<string, number>;

export async function scrape(urls: readonly string[]): Promise<Scrape> {
  const total: Scrape = new Map();
  await Promise.all(
    urls.map(async (u) => {
      const res = await fetch(`${u}/metrics`, { signal: AbortSignal.timeout(10_000) });
      for (const line of (await res.text()).split("\n")) {
        if (line.startsWith("#")) continue;
        const i = line.lastIndexOf(" ");
        const value = Number(line.slice(i + 1));
        let key = line.slice(0, i);
        const bucket = /^(\w+)_bucket\{(.*)\}$/.exec(key);
        if (bucket !== null) {
          // name_bucket{a="x",le="0.01"} → name_bucket{a="x"}|0.01, whatever the label order
          const labels = (bucket[2] ?? "").split(",");
          const le = labels.find((l) => l.startsWith("le="))?.slice(4, -1) ?? "";
          const rest = labels.filter((l) => !l.startsWith("le=")).join(",");
          key = `${bucket[1]}_bucket${rest === "" ? "" : `{${rest}}`}|${le}`;
        } else if (!/_(sum|count)(\{|$)/.test(key)) {
          continue;
        }
        total.set(key, (total.get(key) ?? 0) + value);
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

/**
 * The tail of each histogram between two scrapes: the bucket bound under which 99 % of the
 * step's observations fell (NaN without any), and the share above 10 ms and above 25 ms. The
 * workloads' buckets are coarse (…, 5, 10, 25, 50, 100 ms, …), so the p99 is an upper bound.
 */
export function stageTails(
  before: Scrape,
  after: Scrape,
  series: Record<string, string>,
): Record<string, { p99AtMostMs: number; over10msPct: number; over25msPct: number }> {
  const out: Record<string, { p99AtMostMs: number; over10msPct: number; over25msPct: number }> = {};
  for (const [label, s] of Object.entries(series)) {
    const [name, labels = ""] = s.split("|");
    const prefix = `${name}_bucket${labels === "" ? "" : `{${labels}}`}|`;
    const cumulative = [...after.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => {
        const le = k.slice(prefix.length);
        return {
          le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le),
          n: (after.get(k) ?? 0) - (before.get(k) ?? 0),
        };
      })
      .sort((a, b) => a.le - b.le);
    const total = cumulative.at(-1)?.n ?? 0;
    const upTo = (sec: number) => cumulative.find((b) => b.le >= sec)?.n ?? total;
    const pct = (n: number) => (total === 0 ? Number.NaN : Math.round((n / total) * 1000) / 10);
    const p99 = cumulative.find((b) => b.n >= 0.99 * total && total > 0)?.le ?? Number.NaN;
    out[label] = {
      p99AtMostMs: p99 * 1000,
      over10msPct: pct(total - upTo(0.01)),
      over25msPct: pct(total - upTo(0.025)),
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
