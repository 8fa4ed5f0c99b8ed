/**
 * `deno task bench`: how fast, how big, how quickly it recovers.
 *
 * Starts a real stack (dev agent, three Keepers, Nexus with the kv backend in
 * a temp folder), drives it from a separate load-generator process with
 * keep-alive mTLS clients, and runs the same load against a bare `node:https`
 * mTLS server as the baseline. Prints a table and writes
 * `bench/results/latest.json`. Targets are reported, never asserted.
 *
 * Environment: BENCH_SECONDS (default 5), BENCH_CONCURRENCY (32),
 * BENCH_SCALE (comma list of stored-secret counts, default 1000,10000,100000).
 *
 * @module
 */

import { join } from "node:path";
import { NexusClient } from "../lib/client/nexus.ts";
import { ApiResponseError } from "../lib/client/errors.ts";
import { nexusAs } from "../tests/support/clients.ts";
import { freePort, type Identity, spawnProgram, Stack } from "../tests/support/stack.ts";
import type { LoadSpec } from "./loadgen.ts";
import { median, type RunStats } from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);
const SCALE = (Deno.env.get("BENCH_SCALE") ?? "1000,10000,100000").split(",").map(Number);
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
      if (
        !(e instanceof ApiResponseError && e.status === 503) &&
        !/ECONN|reset|hang up|closed/i.test(String(e))
      ) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Time from spawn to a program's ready line, in ms (median of `n`). */
async function startupMs(
  stack: Stack,
  program: "keeper" | "nexus" | "agent",
  n = 3,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = freePort();
    const t0 = performance.now();
    const proc = program === "keeper"
      ? spawnProgram("keeper", {
        socket: stack.socket("keeper"),
        hosts: [`127.0.0.1:${port}`],
        env: { SPIKE_KEEPER_TLS_PORT: `127.0.0.1:${port}` },
      })
      : spawnProgram("nexus", {
        socket: stack.socket("nexus"),
        hosts: [`127.0.0.1:${port}`],
        env: { SPIKE_NEXUS_TLS_PORT: `127.0.0.1:${port}`, SPIKE_NEXUS_BACKEND_STORE: "memory" },
      });
    await proc.waitFor(program === "keeper" ? /"msg":"ready"/ : /"msg":"listening"/);
    times.push(performance.now() - t0);
    await proc.stop("SIGKILL");
  }
  return Math.round(median(times));
}

async function main(): Promise<void> {
  const started = performance.now();
  log("starting the stack");
  const stack = await Stack.start({ nexusEnv: { SPIKE_SYSTEM_LOG_LEVEL: "ERROR" } });
  const admin = await nexusAs(stack, "pilot");
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    valueBytes: VALUE_BYTES,
  };
  const url = stack.nexusUrl;
  const as = (identity: Identity) => stack.socket(identity);
  try {
    // Data: 1,000 secrets of 1 KiB; 20 policies, one of which lets workload-a read them.
    log("seeding 1000 secrets and 20 policies");
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
    results.nexusRssIdleMb = await rssMb(stack.nexus!.pid);

    // Baseline: same TLS stack, SVIDs and load generator; a fixed 1 KiB answer.
    const basePort = freePort();
    const baseProc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "bench/baseline_server.ts"), as("nexus"), String(basePort)],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1500));
    const workloads: Record<string, RunStats> = {};
    log("baseline");
    workloads.baseline = await loadgen({
      socket: as("pilot"),
      url: `https://127.0.0.1:${basePort}`,
      workload: "baseline",
    });
    baseProc.kill("SIGKILL");
    await baseProc.status;

    const runs: [string, Identity, LoadSpec["workload"]][] = [
      ["secret get", "pilot", "get"],
      ["secret put", "pilot", "put"],
      ["metadata get", "pilot", "metadata"],
      ["cipher encrypt", "pilot", "encrypt"],
      ["cipher decrypt", "pilot", "decrypt"],
      ["policy-checked get", "workload-a", "get"],
      ["mixed 90/10", "pilot", "mixed"],
    ];
    let rssUnderLoad = 0;
    for (const [name, identity, workload] of runs) {
      log(name);
      const sampler = setInterval(async () => {
        rssUnderLoad = Math.max(rssUnderLoad, await rssMb(stack.nexus!.pid).catch(() => 0));
      }, 500);
      workloads[name] = await loadgen({ socket: as(identity), url, workload });
      clearInterval(sampler);
    }
    results.nexusRssUnderLoadMb = rssUnderLoad;
    results.workloads = Object.fromEntries(
      Object.entries(workloads).map(([name, s]) => [
        name,
        { ...s, ratioToBaseline: Math.round(s.rps / workloads.baseline.rps * 1000) / 1000 },
      ]),
    );

    // Durability: versions acknowledged before a kill -9 are there after it.
    log("durability after kill -9");
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
    results.durability = { checked: acked.size, lost };

    // Recovery: kill -9 to the first successful secret get, three Keepers, median of 5.
    log("recovery after kill -9 (5 times)");
    const recoveries: number[] = [];
    for (let i = 0; i < 5; i++) {
      await stack.stopNexus("SIGKILL");
      const t0 = performance.now();
      stack.startNexus({ SPIKE_SYSTEM_LOG_LEVEL: "ERROR" }).catch(() => {});
      await untilServing(admin.nexus, "bench/s/1");
      recoveries.push(Math.round(performance.now() - t0));
    }
    results.recoveryMs = { median: median(recoveries), runs: recoveries };

    // Start-up of each program to ready.
    log("start-up times");
    const { startAgent } = await import("../tests/support/agent.ts");
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
    results.startupMs = {
      agent: Math.round(median(agentTimes)),
      keeper: await startupMs(stack, "keeper"),
      nexus: await startupMs(stack, "nexus"),
      "spike secret get (whole command)": Math.round(median(pilotTimes)),
    };

    // Scale: get and put throughput with more secrets stored.
    const scale: Record<string, { stored: number; get: RunStats; put: RunStats }> = {};
    let stored = 0;
    for (const target of SCALE) {
      log(`scale: ${target} secrets stored`);
      if (target > stored) {
        await loadgen({
          socket: as("pilot"),
          url,
          workload: "seed",
          prefix: "scale",
          count: target,
          paths: target,
          concurrency: 64,
        });
        stored = target;
      }
      const get = await loadgen({
        socket: as("pilot"),
        url,
        workload: "get",
        prefix: "scale",
        paths: target,
      });
      const put = await loadgen({
        socket: as("pilot"),
        url,
        workload: "put",
        prefix: "scale",
        paths: target,
      });
      scale[String(target)] = { stored: target, get, put };
    }
    results.scale = scale;
  } finally {
    admin.close();
    await stack.stop();
  }
  results.benchSeconds = Math.round((performance.now() - started) / 1000);
  await Deno.mkdir(join(ROOT, "bench/results"), { recursive: true });
  await Deno.writeTextFile(
    join(ROOT, "bench/results/latest.json"),
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(report(results));
}

/** The table printed on stdout. */
export function report(r: Record<string, unknown>): string {
  const w = r.workloads as Record<string, RunStats & { ratioToBaseline: number }>;
  const lines = [
    `SPIKE on Deno ${r.deno}, ${r.cores} cores, ${r.concurrency} concurrent keep-alive mTLS clients, ` +
    `${r.seconds} s per workload, ${r.valueBytes}-byte values`,
    "",
    "| workload | req/s | vs baseline | p50 ms | p99 ms | max ms | errors |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...Object.entries(w).map(([name, s]) =>
      `| ${name} | ${s.rps} | ${
        (s.ratioToBaseline * 100).toFixed(0)
      }% | ${s.p50ms} | ${s.p99ms} | ${s.maxms} | ${s.errors} |`
    ),
    "",
    "| stored secrets | get req/s | get p99 ms | put req/s | put p99 ms |",
    "|---:|---:|---:|---:|---:|",
    ...Object.values(r.scale as Record<string, { stored: number; get: RunStats; put: RunStats }>)
      .map((s) =>
        `| ${s.stored} | ${s.get.rps} | ${s.get.p99ms} | ${s.put.rps} | ${s.put.p99ms} |`
      ),
    "",
    `recovery after kill -9 (to the first successful get, 3 Keepers): median ${
      (r.recoveryMs as { median: number }).median
    } ms (${(r.recoveryMs as { runs: number[] }).runs.join(", ")})`,
    `acknowledged writes lost after kill -9: ${(r.durability as { lost: number }).lost} of ${
      (r.durability as { checked: number }).checked
    }`,
    `start-up to ready (ms): ${
      Object.entries(r.startupMs as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
    `Nexus resident memory: idle ${r.nexusRssIdleMb} MiB, under load ${r.nexusRssUnderLoadMb} MiB`,
  ];
  return lines.join("\n");
}

if (import.meta.main) await main();
