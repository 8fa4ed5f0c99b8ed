/**
 * `deno task bench`: how fast, how big, how quickly it recovers.
 *
 * Starts a real stack (dev agent, three Keepers, Nexus with the kv backend in
 * a temp folder), drives it from a separate load-generator process with
 * keep-alive mTLS clients, and runs the same load against a bare `node:https`
 * mTLS server as the baseline; with kv in the run, also against that server
 * reading one Deno KV record per request (the floor of a one-read get). Prints a table and writes
 * `bench/results/latest.json`. Targets are reported, never asserted.
 *
 * Environment: BENCH_SECONDS (default 5), BENCH_CONCURRENCY (32),
 * BENCH_SCALE (comma list of stored-secret counts, default 1000,10000,100000),
 * BENCH_BACKENDS (default kv,sqlite,postgres; postgres is its own section, with 1 to 3 Nexus
 * replicas on one throwaway PostgreSQL cluster: `bench/postgres.ts`), BENCH_WORKLOADS (comma
 * list of workload names, default all), BENCH_QUICK=1 (workloads only: no durability,
 * recovery, scale or start-up runs), BENCH_NEXUS_V8_FLAGS (V8 flags for Nexus, comma-separated,
 * e.g. `--prof,--logfile=/tmp/nexus-%p.log` for a profile to read with `node --prof-process`).
 *
 * @module
 */

import { join } from "node:path";
import { NexusClient } from "../lib/client/nexus.ts";
import { isTransient } from "../lib/client/errors.ts";
import { nexusAs } from "../dev/stack/clients.ts";
import { freePort, type Identity, Proc, Stack } from "../dev/stack/harness.ts";
import { launcherArgs } from "../launch/command.ts";
import type { LoadSpec } from "./loadgen.ts";
import { benchPostgres, postgresReport, type PostgresResults } from "./postgres.ts";
import { scaleRuns } from "./scale.ts";
import { type CpuStats, median, type RunStats } from "./stats.ts";
import { taskEnv } from "./task_env.ts";

/** A workload's figures as the load generator reports them. */
type Run = RunStats & CpuStats;

const ROOT = new URL("..", import.meta.url).pathname;
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);
const SCALE = (Deno.env.get("BENCH_SCALE") ?? "1000,10000,100000").split(",").map(Number);
const BACKEND_LIST = (Deno.env.get("BENCH_BACKENDS") ?? "kv,sqlite,postgres").split(",");
const BACKENDS = BACKEND_LIST.filter((b) => b !== "postgres") as ("kv" | "sqlite")[];
const WORKLOADS = Deno.env.get("BENCH_WORKLOADS")?.split(",");
const QUICK = Deno.env.get("BENCH_QUICK") === "1";
/** Nexus's V8 flags, to profile it under load (Deno reads them from `DENO_V8_FLAGS`). */
const V8: Record<string, string> = Deno.env.get("BENCH_NEXUS_V8_FLAGS")
  ? { DENO_V8_FLAGS: Deno.env.get("BENCH_NEXUS_V8_FLAGS")! }
  : {};
const VALUE_BYTES = 1024;

const log = (line: string) => console.error(`bench: ${line}`);

async function loadgen(spec: Partial<LoadSpec> & Pick<LoadSpec, "socket" | "url" | "workload">) {
  const full: LoadSpec = {
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    warmupSeconds: 1,
    prefix: "bench/s",
    paths: 1000,
    valueBytes: VALUE_BYTES,
    ...spec,
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "bench/loadgen.ts"), JSON.stringify(full)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`loadgen ${spec.workload} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024 * 10) / 10;
}

async function untilServing(nexus: NexusClient, path: string): Promise<void> {
  for (;;) {
    try {
      await nexus.getSecret(path);
      return;
    } catch (e) {
      if (!isTransient(e)) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/**
 * Time from spawn to a program's ready line through `deno task <program>` (what a user runs:
 * the launcher, then the program from its start-up bundle), in ms (median of `n`).
 */
async function startupMs(
  stack: Stack,
  program: "keeper" | "nexus",
  n = 3,
): Promise<number> {
  const times: number[] = [];
  const env = { ...taskEnv(), SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket(program)}` };
  for (let i = 0; i < n + 1; i++) {
    const address = `127.0.0.1:${freePort()}`;
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", program],
      cwd: ROOT,
      env: program === "keeper"
        ? { ...env, SPIKE_KEEPER_TLS_PORT: address }
        : { ...env, SPIKE_NEXUS_TLS_PORT: address, SPIKE_NEXUS_BACKEND_STORE: "memory" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc = new Proc(program, child);
    await proc.waitFor(program === "keeper" ? /"msg":"ready"/ : /"msg":"listening"/);
    // The first start may build the bundle that the timed ones reuse.
    if (i > 0) times.push(performance.now() - t0);
    // SIGTERM: through the task's sh the program is exec'd, and stops on it.
    await proc.stop("SIGTERM", 5_000);
  }
  return Math.round(median(times));
}

/** Everything measured on one backend. */
async function benchBackend(
  backend: "kv" | "sqlite",
  baselineRps: number,
): Promise<Record<string, unknown>> {
  log(`${backend}: starting the stack`);
  const stack = await Stack.start({
    backend,
    nexusEnv: { SPIKE_SYSTEM_LOG_LEVEL: "ERROR", ...V8 },
  });
  const admin = await nexusAs(stack, "pilot");
  const out: Record<string, unknown> = {};
  const url = stack.nexusUrl;
  const as = (identity: Identity) => stack.socket(identity);
  try {
    // Data: 1,000 secrets of 1 KiB; 20 policies, one of which lets workload-a read them.
    log(`${backend}: seeding 1000 secrets and 20 policies`);
    await loadgen({ socket: as("pilot"), url, workload: "seed", count: 1000 });
    for (let i = 0; i < 19; i++) {
      await admin.nexus.putPolicy({
        name: `other-${i}`,
        spiffeidPattern: `^spiffe://spike\\.ist/workload/other-${i}$`,
        pathPattern: `^other/${i}/`,
        permissions: ["read", "write"],
      });
    }
    await admin.nexus.putPolicy({
      name: "bench-read",
      spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
      pathPattern: "^bench/s/",
      permissions: ["read"],
    });
    out.nexusRssIdleMb = await rssMb(stack.nexus!.pid);

    const runs: [string, Identity, LoadSpec["workload"]][] = [
      ["secret get", "pilot", "get"],
      ["secret put", "pilot", "put"],
      ["metadata get", "pilot", "metadata"],
      ["cipher encrypt", "pilot", "encrypt"],
      ["cipher decrypt", "pilot", "decrypt"],
      ["policy-checked get", "workload-a", "get"],
      ["mixed 90/10", "pilot", "mixed"],
    ];
    const workloads: Record<string, Run & { ratioToBaseline: number }> = {};
    let rssUnderLoad = 0;
    for (const [name, identity, workload] of runs) {
      if (WORKLOADS && !WORKLOADS.includes(name)) continue;
      log(`${backend}: ${name}`);
      const sampler = setInterval(async () => {
        rssUnderLoad = Math.max(rssUnderLoad, await rssMb(stack.nexus!.pid).catch(() => 0));
      }, 500);
      const stats: Run = await loadgen({
        socket: as(identity),
        url,
        workload,
        serverPid: stack.nexus!.pid,
      });
      clearInterval(sampler);
      workloads[name] = withRatio(stats, baselineRps);
    }
    out.nexusRssUnderLoadMb = rssUnderLoad;
    out.workloads = workloads;
    if (QUICK) return out;

    // Durability: versions acknowledged before a kill -9 are there after it.
    log(`${backend}: durability after kill -9`);
    const acked = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const path = `bench/s/${i}`;
      await admin.nexus.putSecret(path, { v: "durable" });
      acked.set(path, (await admin.nexus.getSecretMetadata(path)).metadata.currentVersion);
    }
    await stack.stopNexus("SIGKILL");
    await stack.startNexus({ SPIKE_SYSTEM_LOG_LEVEL: "ERROR" });
    await untilServing(admin.nexus, "bench/s/0");
    let lost = 0;
    for (const [path, version] of acked) {
      if ((await admin.nexus.getSecretMetadata(path)).metadata.currentVersion < version) lost++;
    }
    out.durability = { checked: acked.size, lost };

    // Recovery: kill -9 to the first successful secret get, three Keepers, median of 5.
    log(`${backend}: recovery after kill -9 (5 times)`);
    const recoveries: number[] = [];
    for (let i = 0; i < 5; i++) {
      await stack.stopNexus("SIGKILL");
      const t0 = performance.now();
      stack.startNexus({ SPIKE_SYSTEM_LOG_LEVEL: "ERROR" }).catch(() => {});
      await untilServing(admin.nexus, "bench/s/1");
      recoveries.push(Math.round(performance.now() - t0));
    }
    out.recoveryMs = { median: median(recoveries), runs: recoveries };

    // Scale: get and put throughput with more secrets stored.
    const scale = await scaleRuns({
      loadgen,
      socket: as("pilot"),
      url,
      counts: SCALE,
      label: backend,
      log,
    });
    out.scale = scale;
    if (backend === BACKENDS[0]) out.startupMs = await startupTimes(stack);
  } finally {
    admin.close();
    await stack.stop();
  }
  return out;
}

/** Start-up of each program to ready (median of 3). */
async function startupTimes(stack: Stack): Promise<Record<string, number>> {
  log("start-up times");
  const { startAgent } = await import("../dev/stack/agent.ts");
  const agentTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const a = await startAgent({ identities: ["x=spiffe://spike.ist/x"] });
    agentTimes.push(performance.now() - t0);
    await a.stop();
  }
  const pilotTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await stack.spike("pilot", ["secret", "get", "bench/s/1", "v"]);
    if (r.code !== 0) throw new Error(r.stderr);
    pilotTimes.push(performance.now() - t0);
  }
  // What `deno task <program>` adds: the launcher's own run, before the program starts.
  const launcherTimes: number[] = [];
  // A first start builds Keeper's bundle in the start-up cache; the timed runs find it.
  await new Deno.Command("deno", {
    args: ["task", "-q", "keeper", "--print-permissions"],
    cwd: ROOT,
  })
    .output();
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: launcherArgs("keeper", ROOT),
      cwd: ROOT,
      stdout: "null",
    }).output();
    if (!out.success) throw new Error("the launcher failed");
    launcherTimes.push(performance.now() - t0);
  }
  return {
    "launcher (added by deno task)": Math.round(median(launcherTimes)),
    agent: Math.round(median(agentTimes)),
    "keeper (deno task)": await startupMs(stack, "keeper"),
    "nexus (deno task)": await startupMs(stack, "nexus"),
    "spike secret get (whole command)": Math.round(median(pilotTimes)),
  };
}

/**
 * The baseline: a bare node:https mTLS server, same SVIDs and load generator.
 * With `kvFolder`, the floor instead: the same server reading one Deno KV
 * record per request (`bench/baseline_server.ts`), driven by the get workload.
 */
async function baseline(kvFolder?: string): Promise<Run> {
  const stack = await Stack.start({ bootstrap: false });
  try {
    const port = freePort();
    const server = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        join(ROOT, "bench/baseline_server.ts"),
        stack.socket("nexus"),
        String(port),
        ...(kvFolder ? [kvFolder] : []),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const ready = new Proc("baseline", server);
    await ready.waitFor(/baseline ready/);
    log(kvFolder ? "floor (bare server + one Deno KV read)" : "baseline");
    const stats = await loadgen({
      socket: stack.socket("pilot"),
      url: `https://127.0.0.1:${port}`,
      workload: kvFolder ? "get" : "baseline",
      serverPid: server.pid,
    });
    await ready.stop("SIGKILL", 5_000);
    return stats;
  } finally {
    await stack.stop();
  }
}

/** A run with its throughput as a share of the baseline's (three decimals). */
function withRatio(run: Run, baselineRps: number): Run & { ratioToBaseline: number } {
  return { ...run, ratioToBaseline: Math.round(run.rps / baselineRps * 1000) / 1000 };
}

/** The floor of one Deno KV read per request, in a folder of its own. */
async function floor(): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "spike-bench-floor-" });
  try {
    return await baseline(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const base = await baseline();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    valueBytes: VALUE_BYTES,
    baseline: base,
    backends: {},
  };
  if (BACKENDS.includes("kv")) results.floor = withRatio(await floor(), base.rps);
  for (const backend of BACKENDS) {
    (results.backends as Record<string, unknown>)[backend] = await benchBackend(backend, base.rps);
  }
  if (BACKEND_LIST.includes("postgres")) {
    results.postgres = await benchPostgres({
      baselineRps: base.rps,
      loadgen,
      scale: SCALE,
      seconds: SECONDS,
      log,
    });
  }
  results.benchSeconds = Math.round((performance.now() - started) / 1000);
  await Deno.mkdir(join(ROOT, "bench/results"), { recursive: true });
  await Deno.writeTextFile(
    join(ROOT, "bench/results/latest.json"),
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(report(results));
}

/** The targets of issue 13, as met or not by one backend's run (reported, never asserted). */
export function targets(backend: string, w: Record<string, Run>, base: Run): string[] {
  const ratio = (name: string) => (w[name]?.rps ?? 0) / base.rps;
  const check = (ok: boolean) => (ok ? "met" : "NOT met");
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const get = w["secret get"];
  const p99 = (get?.p99ms ?? Infinity) / base.p99ms;
  return [
    `${backend} targets: secret get ${pct(ratio("secret get"))} of baseline (>= 60%: ${
      check(ratio("secret get") >= 0.6)
    }), metadata get ${pct(ratio("metadata get"))} (>= 60%: ${
      check(ratio("metadata get") >= 0.6)
    }), policy-checked get ${pct(ratio("policy-checked get"))} (>= 50%: ${
      check(ratio("policy-checked get") >= 0.5)
    }), put ${w["secret put"]?.rps ?? 0} req/s (>= 2500: ${
      check((w["secret put"]?.rps ?? 0) >= 2500)
    }), secret get p99 ${p99.toFixed(2)}x baseline p99 (<= 2x: ${check(p99 <= 2)})`,
  ];
}

/** The table printed on stdout. */
export function report(r: Record<string, unknown>): string {
  const base = r.baseline as Run;
  const cpu = (s: Run) => `${s.serverCpuUsPerRequest ?? "-"} | ${s.loadgenCpuUsPerRequest}`;
  const row = (backend: string, name: string, s: Run & { ratioToBaseline: number }) =>
    `| ${backend} | ${name} | ${s.rps} | ${
      (s.ratioToBaseline * 100).toFixed(0)
    }% | ${s.p50ms} | ${s.p99ms} | ${s.maxms} | ${s.errors} | ${cpu(s)} |`;
  const lines = [
    `SPIKE on Deno ${r.deno}, ${r.cores} cores, ${r.concurrency} concurrent keep-alive mTLS clients, ` +
    `${r.seconds} s per workload, ${r.valueBytes}-byte values`,
    "",
    "| backend | workload | req/s | vs baseline | p50 ms | p99 ms | max ms | errors | server CPU µs/req | loadgen CPU µs/req |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| - | baseline (bare node:https mTLS) | ${base.rps} | 100% | ${base.p50ms} | ${base.p99ms} | ${base.maxms} | ${base.errors} | ${
      cpu(base)
    } |`,
  ];
  const floor = r.floor as (Run & { ratioToBaseline: number }) | undefined;
  if (floor) lines.push(row("kv", "floor (bare server + one Deno KV read)", floor));
  const backends = r.backends as Record<string, Record<string, unknown>>;
  for (const [backend, b] of Object.entries(backends)) {
    const w = b.workloads as Record<string, Run & { ratioToBaseline: number }>;
    for (const [name, s] of Object.entries(w)) lines.push(row(backend, name, s));
  }
  lines.push(
    "",
    `The load generator used ${
      (base.loadgenCpuShare * 100).toFixed(0)
    }% of the machine's CPU during the baseline.`,
  );
  for (const [backend, b] of Object.entries(backends)) {
    lines.push(...targets(backend, b.workloads as Record<string, Run>, base));
  }
  if (Object.values(backends).some((b) => !b.scale)) return lines.join("\n"); // BENCH_QUICK
  if (Object.keys(backends).length > 0) {
    lines.push(
      "",
      "| backend | stored secrets | get req/s | get p99 ms | put req/s | put p99 ms |",
    );
    lines.push("|---|---:|---:|---:|---:|---:|");
  }
  for (const [backend, b] of Object.entries(backends)) {
    for (
      const s of Object.values(
        b.scale as Record<string, { stored: number; get: RunStats; put: RunStats }>,
      )
    ) {
      lines.push(
        `| ${backend} | ${s.stored} | ${s.get.rps} | ${s.get.p99ms} | ${s.put.rps} | ${s.put.p99ms} |`,
      );
    }
  }
  lines.push("");
  for (const [backend, b] of Object.entries(backends)) {
    const rec = b.recoveryMs as { median: number; runs: number[] };
    const dur = b.durability as { checked: number; lost: number };
    lines.push(
      `${backend}: recovery after kill -9 (to the first successful get, 3 Keepers): median ` +
        `${rec.median} ms (${rec.runs.join(", ")}); acknowledged writes lost after kill -9: ` +
        `${dur.lost} of ${dur.checked}; Nexus memory: idle ${b.nexusRssIdleMb} MiB, under load ` +
        `${b.nexusRssUnderLoadMb} MiB`,
    );
    if (b.startupMs) {
      const startup = b.startupMs as Record<string, number>;
      const servers = Math.max(startup["keeper (deno task)"], startup["nexus (deno task)"]);
      lines.push(
        `start-up to ready (ms): ${
          Object.entries(startup).map(([k, v]) => `${k} ${v}`).join(", ")
        } (each server through deno task <= 300: ${servers <= 300 ? "met" : "NOT met"})`,
      );
    }
  }
  if ("postgres" in r) lines.push(...postgresReport(r.postgres as PostgresResults | undefined));
  return lines.join("\n");
}

if (import.meta.main) await main();
