/**
 * The postgres section of `deno task bench`: one throwaway PostgreSQL
 * cluster (fsync and synchronous_commit on), three Keepers and up to three
 * Nexus replicas on it; secret get and put with the load spread evenly over
 * 1, 2 and 3 replicas (each load-generator client keeps to one replica), as
 * a ratio to the same bare-mTLS baseline as the other backends; then get and
 * put with more secrets stored (BENCH_SCALE), over every replica.
 *
 * On the 2-core machine this was written on, every replica, PostgreSQL and
 * the load generator share the same two cores, so more replicas cannot add
 * throughput here: the figures show the cost of the database round trip
 * and whether spreading load over replicas costs anything, not how far it
 * scales on more machines.
 *
 * @module
 */

import { agentAs, nexusAs } from "../dev/stack/clients.ts";
import { PgCluster, POSTGRES_BIN } from "../dev/stack/postgres.ts";
import { Stack } from "../dev/stack/harness.ts";
import { isTransient } from "../lib/client/errors.ts";
import { NexusClient } from "../lib/client/nexus.ts";
import { type RunLoad, scaleRuns } from "./scale.ts";
import type { RunStats } from "./stats.ts";

/** What the section needs from the bench's driver. */
export interface PostgresBenchOptions {
  baselineRps: number;
  /** Runs the load generator (bench/main.ts), with the driver's defaults for the rest. */
  loadgen: RunLoad;
  /** Stored-secret counts for the scale runs. */
  scale: number[];
  /** Seconds each run measures (after a one-second warm-up). */
  seconds: number;
  log: (line: string) => void;
}

/** CPU microseconds per request, by who spent them (from `/proc/PID/stat`). */
interface CpuPerRequest {
  nexusUs: number;
  postgresUs: number;
}

type Ratioed = RunStats & { ratioToBaseline: number; cpu: CpuPerRequest };

/** User + system CPU time of each of `pids`, in ms (Linux clock ticks of 10 ms). */
async function cpuMs(pids: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10); // utime, stime
    } catch { /* ended */ }
  }
  return out;
}

/** CPU ms spent between two samples by processes in both (one that ended meanwhile is left out). */
function spent(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, end] of after) ms += end - (before.get(pid) ?? 0);
  return ms;
}

/** What the section measured (`results.postgres` in latest.json). */
export interface PostgresResults {
  postgres: string;
  /** By replica count: get and put, load spread over that many replicas. */
  replicas: Record<string, { get: Ratioed; put: Ratioed }>;
  /** By stored-secret count, over every replica. */
  scale: Record<string, { stored: number; replicas: number; get: RunStats; put: RunStats }>;
  seedSecondsPer1000: number;
}

const REPLICAS = 3;

/** Runs the section; `undefined` (with a note) when PostgreSQL is not installed. */
export async function benchPostgres(o: PostgresBenchOptions): Promise<PostgresResults | undefined> {
  if (!POSTGRES_BIN) {
    o.log("postgres: PostgreSQL is not installed (initdb/pg_ctl): section skipped");
    return undefined;
  }
  o.log("postgres: starting a cluster, three Keepers and three Nexus replicas");
  const pg = await PgCluster.start();
  let stack: Stack | undefined;
  const closers: (() => void)[] = [];
  try {
    const s = stack = await Stack.start({
      backend: "postgres",
      bootstrap: false,
      nexusEnv: { SPIKE_SYSTEM_LOG_LEVEL: "ERROR" },
      postgres: {
        hostPort: pg.hostPort,
        url: await pg.createDatabase("bench"),
        password: pg.password,
      },
    });
    for (let i = 0; i < 3; i++) await s.startKeeper(i);
    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => s.startNexus({}, i)));
    const boot = await s.runBootstrap();
    if (boot.code !== 0) throw new Error(`bootstrap failed:\n${boot.stderr}`);
    const urls = Array.from({ length: REPLICAS }, (_, i) => s.replicaUrl(i));
    // Every replica serving (the ones Bootstrap did not talk to find the key at the Keepers).
    const { agent, close } = await agentAs(s, "pilot", "nexus");
    closers.push(close);
    for (const url of urls) {
      const nexus = new NexusClient({ url, agent, timeoutMs: 10_000, readAttempts: 1 });
      for (;;) {
        try {
          await nexus.listSecrets();
          break;
        } catch (e) {
          if (!isTransient(e)) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    const admin = await nexusAs(s, "pilot");
    closers.push(admin.close);
    const socket = s.socket("pilot");

    o.log("postgres: seeding 1000 secrets");
    const seeded = await o.loadgen({
      socket,
      url: urls.join(","),
      workload: "seed",
      count: 1000,
    }) as unknown as { seconds: number };

    const nexusPids = () => [s.nexus!.pid, ...[...s.replicas.values()].map((p) => p.pid)];
    /** One run, with the CPU that Nexus (every replica) and PostgreSQL spent per request. */
    const measured = async (url: string, workload: "get" | "put"): Promise<Ratioed> => {
      const [nexus0, pg0] = [await cpuMs(nexusPids()), await cpuMs(await pg.pids())];
      const stats = await o.loadgen({ socket, url, workload });
      const [nexus1, pg1] = [await cpuMs(nexusPids()), await cpuMs(await pg.pids())];
      // The warm-up's requests are in the CPU time too: count them at the measured rate.
      const requests = Math.max(1, stats.rps * (o.seconds + 1));
      return {
        ...stats,
        ratioToBaseline: Math.round(stats.rps / o.baselineRps * 1000) / 1000,
        cpu: {
          nexusUs: Math.round(spent(nexus0, nexus1) * 1000 / requests),
          postgresUs: Math.round(spent(pg0, pg1) * 1000 / requests),
        },
      };
    };
    const replicas: PostgresResults["replicas"] = {};
    for (let n = 1; n <= REPLICAS; n++) {
      const url = urls.slice(0, n).join(",");
      o.log(`postgres: secret get and put over ${n} replica(s)`);
      const get = await measured(url, "get");
      const put = await measured(url, "put");
      replicas[String(n)] = { get, put };
      o.log(
        `postgres: ${n} replica(s): get ${get.rps} req/s (p99 ${get.p99ms} ms), put ${put.rps}; ` +
          `CPU µs/request get ${JSON.stringify(get.cpu)}, put ${JSON.stringify(put.cpu)}`,
      );
    }

    const runs = await scaleRuns({
      loadgen: o.loadgen,
      socket,
      url: urls.join(","),
      counts: o.scale,
      label: "postgres",
      log: o.log,
    });
    const scale: PostgresResults["scale"] = {};
    for (const [count, run] of Object.entries(runs)) {
      scale[count] = { stored: run.stored, replicas: REPLICAS, get: run.get, put: run.put };
    }
    const version = (await pg.psql("SHOW server_version")).trim();
    return {
      postgres: version,
      replicas,
      scale,
      seedSecondsPer1000: Math.round(seeded.seconds * 100) / 100,
    };
  } catch (e) {
    // A load generator that lost its agent says only that; the agent's own words say why. (Seen:
    // Deno's HTTP/2 aborting the dev agent on an nghttp2 assertion, find_stream_on_goaway_func.)
    if (stack) {
      o.log(`postgres: failed; the dev agent's stderr:\n${stack.agent.stderr().slice(-4000)}`);
    }
    throw e;
  } finally {
    for (const close of closers) close();
    await stack?.stop();
    await pg.close();
  }
}

/** The section's lines of the printed report. */
export function postgresReport(p: PostgresResults | undefined): string[] {
  if (!p) return ["", "postgres: skipped (PostgreSQL is not installed)"];
  const lines = [
    "",
    `postgres (PostgreSQL ${p.postgres}, fsync on; load spread evenly over the replicas):`,
    "",
    "| replicas | get req/s | vs baseline | get p99 ms | put req/s | vs baseline | put p99 ms | errors | CPU µs per get (Nexus / PostgreSQL) | per put |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const pct = (r: number) => `${(r * 100).toFixed(0)}%`;
  for (const [n, { get, put }] of Object.entries(p.replicas)) {
    const cells = [
      n,
      get.rps,
      pct(get.ratioToBaseline),
      get.p99ms,
      put.rps,
      pct(put.ratioToBaseline),
      put.p99ms,
      get.errors + put.errors,
      `${get.cpu.nexusUs} / ${get.cpu.postgresUs}`,
      `${put.cpu.nexusUs} / ${put.cpu.postgresUs}`,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("", "| stored secrets | replicas | get req/s | get p99 ms | put req/s | put p99 ms |");
  lines.push("|---:|---:|---:|---:|---:|---:|");
  for (const s of Object.values(p.scale)) {
    lines.push(
      `| ${s.stored} | ${s.replicas} | ${s.get.rps} | ${s.get.p99ms} | ${s.put.rps} | ${s.put.p99ms} |`,
    );
  }
  return lines;
}
