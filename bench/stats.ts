/**
 * Latency statistics for the load generator.
 *
 * @module
 */

/** A workload's figures. */
export interface RunStats {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
}

/** Where a workload's CPU went, over the measured window. */
export interface CpuStats {
  /** The server's CPU time (all its threads) per request served, in µs (null: not measured). */
  serverCpuUsPerRequest: number | null;
  /** The load generator's own CPU time per request, in µs. */
  loadgenCpuUsPerRequest: number;
  /** The load generator's share of the machine's CPU time (0..1, all cores). */
  loadgenCpuShare: number;
}

/** The value below which `q` (0..1) of the sorted samples fall (nearest rank). */
export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** Summarizes latencies (ms) of the successful requests of a run. */
export function summarize(latencies: number[], errors: number, seconds: number): RunStats {
  const sorted = Float64Array.from(latencies).sort();
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    requests: latencies.length,
    errors,
    seconds: round(seconds),
    rps: Math.round(latencies.length / seconds),
    p50ms: round(percentile(sorted, 0.5)),
    p99ms: round(percentile(sorted, 0.99)),
    maxms: round(sorted.at(-1) ?? 0),
  };
}

/** The median of a few numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
