/** Latency statistics for the benches: samples are nanoseconds from process.hrtime.bigint(). */

export interface Summary {
  readonly n: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samplesNs: readonly bigint[]): Summary {
  const us = Float64Array.from(samplesNs, (ns) => Number(ns) / 1000);
  us.sort();
  let sum = 0;
  for (const v of us) sum += v;
  return { n: us.length, p50Us: percentile(us, 50), p99Us: percentile(us, 99), meanUs: sum / us.length };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median across runs of each per-run statistic (not a p50 of pooled samples). */
export function medianOfRuns(runs: readonly Summary[]): Summary {
  return {
    n: runs.reduce((a, r) => a + r.n, 0),
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    meanUs: median(runs.map((r) => r.meanUs)),
  };
}

/** Times `fn` `count` times in sequence; returns one sample per call, in nanoseconds. */
export async function timeSequential(count: number, fn: (i: number) => Promise<void>): Promise<bigint[]> {
  const samples: bigint[] = new Array<bigint>(count);
  for (let i = 0; i < count; i += 1) {
    const start = process.hrtime.bigint();
    await fn(i);
    samples[i] = process.hrtime.bigint() - start;
  }
  return samples;
}
