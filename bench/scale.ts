/**
 * The scale runs every backend's bench section makes: seed secrets up to
 * each stored-secret count (`BENCH_SCALE`), then secret get and put over
 * that many paths, so the figures show what more stored data costs.
 *
 * @module
 */

import type { LoadSpec } from "./loadgen.ts";
import type { RunStats } from "./stats.ts";

/** Runs the load generator with the driver's defaults for what `spec` leaves out. */
export type RunLoad = (
  spec: Partial<LoadSpec> & Pick<LoadSpec, "socket" | "url" | "workload">,
) => Promise<RunStats>;

/** Get and put with `stored` secrets in the store. */
export interface ScaleRun {
  stored: number;
  get: RunStats;
  put: RunStats;
}

/** Options for {@link scaleRuns}. */
export interface ScaleOptions {
  loadgen: RunLoad;
  /** The Workload API socket of the identity that seeds and reads (the superuser). */
  socket: string;
  /** Nexus, or several replicas comma-separated. */
  url: string;
  /** Stored-secret counts, in increasing order. */
  counts: readonly number[];
  /** Progress lines start with this (the backend's name). */
  label: string;
  log: (line: string) => void;
}

/** The scale runs, keyed by stored-secret count; each count is seeded on top of the last. */
export async function scaleRuns(o: ScaleOptions): Promise<Record<string, ScaleRun>> {
  const scale: Record<string, ScaleRun> = {};
  const { loadgen, socket, url } = o;
  let stored = 0;
  for (const target of o.counts) {
    o.log(`${o.label}: scale, ${target} secrets stored`);
    if (target > stored) {
      await loadgen({
        socket,
        url,
        workload: "seed",
        prefix: "scale",
        count: target,
        paths: target,
        concurrency: 64,
      });
      stored = target;
    }
    const get = await loadgen({ socket, url, workload: "get", prefix: "scale", paths: target });
    const put = await loadgen({ socket, url, workload: "put", prefix: "scale", paths: target });
    scale[String(target)] = { stored: target, get, put };
    o.log(
      `${o.label}: ${target} stored: get ${get.rps} req/s (p99 ${get.p99ms} ms), put ${put.rps}`,
    );
  }
  return scale;
}
