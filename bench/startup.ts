/**
 * Start-up costs only, in a minute instead of the whole bench
 * (`deno run -A bench/startup.ts [N]`): a bare `deno run`, the launcher
 * alone, and Keeper and Nexus from spawn to ready (Keeper's "ready", Nexus's
 * "listening" on the memory store), started directly with the command the
 * launcher computes and through `deno task`. Prints the medians of `N` runs
 * each (default 9) in milliseconds, with the load average, as JSON.
 *
 * @module
 */

import { launchCommand, LAUNCHER_ENV } from "../launch/command.ts";
import { freePort, Stack } from "../dev/stack/harness.ts";
import { median } from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const N = Number(Deno.args[0] ?? 9);
const DENO = Deno.execPath();

/** Milliseconds until `pattern` appears on the child's stderr; then the child is stopped. */
async function untilReady(child: Deno.ChildProcess, pattern: RegExp, t0: number): Promise<number> {
  const decoder = new TextDecoder();
  let text = "";
  let ms = NaN;
  for await (const chunk of child.stderr) {
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
  await child.stdout.cancel();
  if (Number.isNaN(ms)) throw new Error(`never ready:\n${text}`);
  return ms;
}

async function timeRun(args: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(DENO, { args, cwd: ROOT, stdout: "null" }).output();
  if (!out.success) throw new Error(`failed: deno ${args.join(" ")}`);
  return performance.now() - t0;
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

const empty = await Deno.makeTempFile({ suffix: ".ts" });
const stack = await Stack.start({ bootstrap: false });
const times: Record<string, number[]> = {};
const add = (name: string, ms: number) => (times[name] ??= []).push(ms);
try {
  for (let i = 0; i < N; i++) {
    add("deno run (empty file)", await timeRun(["run", empty]));
    for (const program of ["keeper", "nexus"] as const) {
      add(
        `launcher alone (${program})`,
        await timeRun([
          "run",
          "--no-config",
          "--no-prompt",
          `--allow-env=${LAUNCHER_ENV}`,
          "launch/main.ts",
          program,
        ]),
      );
      const s = server[program];
      const env: Record<string, string> = {
        ...s.env,
        NO_COLOR: "1",
        // The task's sh finds `deno` on PATH; Deno finds its cache under HOME.
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
        SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket(program)}`,
      };
      // Directly: the same `deno run` command the task execs, computed here.
      env[s.port] = `127.0.0.1:${freePort()}`;
      const argv = launchCommand(program, { kind: "checkout", root: ROOT }, {
        env,
        args: [],
        cwd: ROOT,
      }).argv;
      let t0 = performance.now();
      const direct = spawn(argv[0], argv.slice(1), env);
      add(`${program} direct`, await untilReady(direct, s.ready, t0));
      env[s.port] = `127.0.0.1:${freePort()}`;
      t0 = performance.now();
      const task = spawn(DENO, ["task", "-q", program], env);
      add(`${program} via deno task`, await untilReady(task, s.ready, t0));
    }
  }
} finally {
  await stack.stop();
  await Deno.remove(empty);
}
const medians = Object.fromEntries(
  Object.entries(times).map(([k, v]) => [k, Math.round(median(v))]),
);
console.log(JSON.stringify({ runs: N, load: Deno.loadavg(), medians }, null, 2));
