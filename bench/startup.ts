/**
 * Start-up costs only, in a few minutes instead of the whole bench
 * (`deno run -A bench/startup.ts [N]`): a bare `deno run`, the launcher
 * alone, and each program from spawn to ready (the dev agent's "ready:",
 * Keeper's "ready", Nexus's "listening" on the memory store, and
 * `spike secret get` to its exit), through `deno task` and (servers) started
 * directly, from source and from the start-up cache's bundle, with the
 * command the launcher computes. Prints, as
 * JSON with the load average, the medians of `N` runs each (default 9): wall
 * milliseconds, and CPU milliseconds of the whole process tree (user +
 * system of every process the run started, read from this process's
 * `cutime`/`cstime` in `/proc/self/stat`, which count reaped descendants).
 *
 * @module
 */

import { join } from "node:path";
import { launchCommand, launcherArgs } from "../launch/command.ts";
import { currentBundle } from "../launch/cache.ts";
import { freePort, Stack } from "../dev/stack/harness.ts";
import { median } from "./stats.ts";
import { taskEnv } from "./task_env.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const N = Number(Deno.args[0] ?? 9);
const DENO = Deno.execPath();
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU milliseconds of this process's reaped children (and theirs). */
function childrenCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 16 and 17 (cutime, cstime), counted from 1 with pid and comm removed.
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

interface Sample {
  ms: number;
  cpu: number;
}

/** Milliseconds until `pattern` appears on the child's `stream`; then the child is stopped. */
async function untilReady(
  child: Deno.ChildProcess,
  stream: "stdout" | "stderr",
  pattern: RegExp,
  t0: number,
  cpu0: number,
): Promise<Sample> {
  const decoder = new TextDecoder();
  let text = "";
  let ms = NaN;
  for await (const chunk of child[stream]) {
    text += decoder.decode(chunk, { stream: true });
    if (pattern.test(text)) {
      ms = performance.now() - t0;
      break;
    }
  }
  // SIGTERM, not SIGKILL: through `deno task` the program is a grandchild, and
  // the task passes the signal on (SIGKILL would leave the program running).
  child.kill("SIGTERM");
  await child.status;
  await child[stream === "stdout" ? "stderr" : "stdout"].cancel();
  if (Number.isNaN(ms)) throw new Error(`never ready:\n${text}`);
  return { ms, cpu: childrenCpuMs() - cpu0 };
}

async function timeRun(cmd: string, args: string[], env?: Record<string, string>): Promise<Sample> {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    ...(env ? { env, clearEnv: true } : {}),
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(`failed: ${cmd} ${args.join(" ")}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return { ms, cpu: childrenCpuMs() - cpu0 };
}

function spawn(cmd: string, args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

const server = {
  keeper: { port: "SPIKE_KEEPER_TLS_PORT", ready: /"msg":"ready"/, env: {} },
  nexus: {
    port: "SPIKE_NEXUS_TLS_PORT",
    ready: /"msg":"listening"/,
    env: { SPIKE_NEXUS_BACKEND_STORE: "memory" },
  },
} as const;

const baseEnv = taskEnv();

const empty = await Deno.makeTempFile({ suffix: ".ts" });
const stack = await Stack.start();
const times: Record<string, Sample[]> = {};
const add = (name: string, s: Sample) => (times[name] ??= []).push(s);
try {
  const put = await stack.spike("pilot", ["secret", "put", "bench/start", "k=v"]);
  if (put.code !== 0) throw new Error(put.stderr);
  const pilotEnv = {
    ...baseEnv,
    SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket("pilot")}`,
    SPIKE_NEXUS_API_URL: stack.nexusUrl,
  };
  // One untimed start of each: a first start may build what later ones reuse.
  for (const name of ["keeper", "nexus", "agent"]) {
    await timeRun(DENO, ["task", "-q", name, "--print-permissions"], baseEnv);
  }
  await timeRun(DENO, ["task", "-q", "spike", "secret", "get", "bench/start", "k"], pilotEnv);
  for (let i = 0; i < N; i++) {
    add("deno run (empty file)", await timeRun(DENO, ["run", empty]));
    for (const program of ["keeper", "nexus"] as const) {
      add(`launcher alone (${program})`, await timeRun(DENO, launcherArgs(program, ROOT)));
      const s = server[program];
      const env: Record<string, string> = {
        ...baseEnv,
        ...s.env,
        SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket(program)}`,
      };
      // Directly from source: the `deno run` command of the checkout, computed here.
      env[s.port] = `127.0.0.1:${freePort()}`;
      const argv = launchCommand(program, { kind: "checkout", root: ROOT }, {
        env,
        args: [],
        cwd: ROOT,
      }).argv;
      let cpu0 = childrenCpuMs();
      let t0 = performance.now();
      const direct = spawn(argv[0], argv.slice(1), env);
      add(`${program} direct (source)`, await untilReady(direct, "stderr", s.ready, t0, cpu0));
      // Directly from the start-up cache's bundle (built by the untimed first start).
      const file = await currentBundle(ROOT, program);
      if (file) {
        env[s.port] = `127.0.0.1:${freePort()}`;
        const argv = launchCommand(program, { kind: "bundle", file, devRoot: ROOT }, {
          env,
          args: [],
          cwd: ROOT,
        }).argv;
        cpu0 = childrenCpuMs();
        t0 = performance.now();
        const bundled = spawn(argv[0], argv.slice(1), env);
        add(`${program} direct (bundle)`, await untilReady(bundled, "stderr", s.ready, t0, cpu0));
      }
      env[s.port] = `127.0.0.1:${freePort()}`;
      cpu0 = childrenCpuMs();
      t0 = performance.now();
      const task = spawn(DENO, ["task", "-q", program], env);
      add(`${program} via deno task`, await untilReady(task, "stderr", s.ready, t0, cpu0));
    }
    const agentDir = await Deno.makeTempDir({ prefix: "spike-bench-agent-" });
    try {
      const cpu0 = childrenCpuMs();
      const t0 = performance.now();
      const agent = spawn(DENO, [
        "task",
        "-q",
        "agent",
        "serve",
        "--data-dir",
        join(agentDir, "data"),
        "--identity",
        "x=spiffe://spike.ist/x",
      ], baseEnv);
      add("agent via deno task", await untilReady(agent, "stdout", /ready:/, t0, cpu0));
    } finally {
      await Deno.remove(agentDir, { recursive: true });
    }
    add(
      "spike secret get via deno task (whole command)",
      await timeRun(DENO, ["task", "-q", "spike", "secret", "get", "bench/start", "k"], pilotEnv),
    );
  }
} finally {
  await stack.stop();
  await Deno.remove(empty);
}
const round = (xs: number[]) => Math.round(median(xs));
const medians = Object.fromEntries(
  Object.entries(times).map(([k, v]) => [k, {
    ms: round(v.map((s) => s.ms)),
    cpu: round(v.map((s) => s.cpu)),
  }]),
);
console.log(JSON.stringify({ runs: N, load: Deno.loadavg(), medians }, null, 2));
