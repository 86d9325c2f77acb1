// A fixed-bucket latency histogram: no allocation per sample, mergeable across worker threads
// (the buckets are a plain Uint32Array that postMessage copies). 10 µs buckets up to 100 ms,
// then 1 ms buckets up to 10 s; anything slower lands in the last bucket (max is exact).

const FINE = 10_000; // 0 .. 100 ms in 10 µs steps
const FINE_LIMIT_US = FINE * 10;
const COARSE = 9_900; // 100 ms .. 10 s in 1 ms steps
export const BUCKETS = FINE + COARSE + 1;

export interface HistogramData {
  readonly buckets: Uint32Array;
  count: number;
  sumMs: number;
  maxMs: number;
}

export function newHistogram(): HistogramData {
  return { buckets: new Uint32Array(BUCKETS), count: 0, sumMs: 0, maxMs: 0 };
}

export function record(h: HistogramData, ms: number): void {
  const v = Math.max(ms, 0);
  const us = Math.floor(v * 1000);
  const i =
    us < FINE_LIMIT_US
      ? Math.floor(us / 10)
      : Math.min(FINE + Math.floor((us - FINE_LIMIT_US) / 1000), BUCKETS - 1);
  h.buckets[i] = (h.buckets[i] ?? 0) + 1;
  h.count++;
  h.sumMs += v;
  if (v > h.maxMs) h.maxMs = v;
}

export function merge(into: HistogramData, from: HistogramData): void {
  for (let i = 0; i < BUCKETS; i++)
    into.buckets[i] = (into.buckets[i] ?? 0) + (from.buckets[i] ?? 0);
  into.count += from.count;
  into.sumMs += from.sumMs;
  if (from.maxMs > into.maxMs) into.maxMs = from.maxMs;
}

export function reset(h: HistogramData): void {
  h.buckets.fill(0);
  h.count = 0;
  h.sumMs = 0;
  h.maxMs = 0;
}

/** The upper edge of the bucket holding the q-quantile, in ms (capped at the exact max). */
export function quantile(h: HistogramData, q: number): number {
  if (h.count === 0) return Number.NaN;
  const rank = Math.ceil(q * h.count);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += h.buckets[i] ?? 0;
    if (seen >= rank) {
      const upper = i < FINE ? (i + 1) * 0.01 : 100 + (i - FINE + 1);
      return Math.min(upper, h.maxMs);
    }
  }
  return h.maxMs;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(h: HistogramData): LatencySummary {
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    count: h.count,
    p50: r(quantile(h, 0.5)),
    p95: r(quantile(h, 0.95)),
    p99: r(quantile(h, 0.99)),
    max: r(h.maxMs),
    mean: h.count === 0 ? Number.NaN : r(h.sumMs / h.count),
  };
}
