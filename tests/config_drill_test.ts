/**
 * Configuration drill (issue 14): every invalid setting stops the program
 * within a second of its start (Deno's own start excluded), with exit code
 * non-zero and one line on stderr naming the variable; never a stack trace.
 *
 * Each case runs twice, the ways users start programs: through the
 * launcher (`deno task -q <program>` from a folder outside the checkout;
 * a setting that does not parse grants nothing and the program reports it)
 * and with `deno run` and fixed flags (as someone writing their own unit
 * file would; see `spawnProgram`'s `byHand`).
 *
 * Variables covered (README "Configuration"): SPIFFE_ENDPOINT_SOCKET
 * (malformed, a folder, a regular file), SPIKE_SPIFFE_SOURCE_TIMEOUT,
 * SPIKE_SVID_CERT_FILE/_KEY_FILE/_BUNDLE_FILE (partial set),
 * SPIKE_TRUST_ROOT_NEXUS/_KEEPER/_BOOTSTRAP/_PILOT/_LITE_WORKLOAD,
 * SPIKE_NEXUS_TLS_PORT, SPIKE_KEEPER_TLS_PORT (non-numeric, out of range),
 * SPIKE_NEXUS_METRICS_PORT (":PORT", out of range), SPIKE_NEXUS_AUDIT_FILE (relative; a file
 * that cannot be opened is tests/audit_test.ts's),
 * SPIKE_NEXUS_API_URL (Pilot, Bootstrap; single URLs only),
 * SPIKE_NEXUS_KEEPER_PEERS (not https, not a URL, unset),
 * SPIKE_NEXUS_SHAMIR_SHARES, SPIKE_NEXUS_SHAMIR_THRESHOLD (above shares,
 * non-numeric, not the Keeper count), SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL,
 * SPIKE_NEXUS_BACKEND_STORE, SPIKE_NEXUS_DATA_DIR (a file),
 * SPIKE_NEXUS_DB_BUSY_TIMEOUT_MS, SPIKE_NEXUS_DB_URL (bad, with a password
 * that must never be repeated; missing), SPIKE_NEXUS_DB_MAX_OPEN_CONNS,
 * SPIKE_NEXUS_DB_OPERATION_TIMEOUT, SPIKE_NEXUS_MAX_SECRET_VERSIONS,
 * SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE, SPIKE_NEXUS_MAX_REQUEST_BODY_BYTES,
 * SPIKE_BOOTSTRAP_FORCE, SPIKE_BOOTSTRAP_KEEPER_TIMEOUT, _KEEPER_MAX_RETRIES,
 * _KEEPER_RETRY_INITIAL_INTERVAL, _KEEPER_RETRY_MAX_INTERVAL,
 * SPIKE_BOOTSTRAP_INIT_VERIFICATION_TIMEOUT, SPIKE_BOOTSTRAP_TIMEOUT,
 * SPIKE_HTTP_CLIENT_TIMEOUT, SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT,
 * SPIKE_HTTP_SERVER_MAX_CONNECTIONS(_PER_PEER), SPIKE_NEXUS_RATE_LIMIT_READS,
 * SPIKE_SYSTEM_LOG_LEVEL (Nexus, Keeper, Bootstrap; Pilot
 * writes no log and does not read it).
 * Not checkable at start: SPIKE_NEXUS_DB_PASSWORD_FILE (read when the pool
 * connects), SPIKE_PILOT_RECOVERY_DIR (used by `operator recover` only),
 * SPIKE_PILOT_DEFAULT_SOCKET (same rules as SPIFFE_ENDPOINT_SOCKET, covered).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Program } from "../lib/config/programs.ts";
import { within } from "./support/programs.ts";
import { spawnProgram } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
/**
 * The promise: a bad setting stops the program within a second of Deno's start. It is reported in
 * the figures line, not asserted (a timed assertion fails on a busy machine, not on a slow program);
 * what is asserted is that no start comes near hanging.
 */
const PROMISE_MS = 1000;
// Far from the promise, far from forever: a busy CI machine running other drills in parallel
// has made a one-second exit take six.
const HANG_MS = 10_000;
const PASSWORD = "hunter2-Sekr3t";

interface Case {
  program: Program;
  /** The variable the sentence must name. */
  variable: string;
  env: Record<string, string>;
  args?: string[];
  /** Text that must not appear in the output (a password). */
  secret?: string;
}

/** A folder outside the checkout, with a regular file and a folder to misuse. */
const DIR = await Deno.makeTempDir({ prefix: "spike-config-drill-" });
const A_FILE = join(DIR, "a-file");
const A_FOLDER = join(DIR, "a-folder");
await Deno.writeTextFile(A_FILE, "not a socket, not a folder\n");
await Deno.mkdir(A_FOLDER);
/** A socket path nothing listens on: the programs would wait for the agent. */
const SOCKET = `unix://${join(DIR, "agent.sock")}`;

const PEERS = "https://localhost:9443,https://localhost:9543,https://localhost:9643";
const nexus = (env: Record<string, string>) => ({
  SPIFFE_ENDPOINT_SOCKET: SOCKET,
  SPIKE_NEXUS_KEEPER_PEERS: PEERS,
  SPIKE_NEXUS_DATA_DIR: join(DIR, "data"),
  ...env,
});
const withSocket = (env: Record<string, string>) => ({ SPIFFE_ENDPOINT_SOCKET: SOCKET, ...env });
const bare = (env: Record<string, string>) => env;

/**
 * A case: `program` started with the environment `base` makes (default
 * {@link nexus}), `variable` set to the invalid `value` beside `also`.
 */
function bad(
  program: Program,
  variable: string,
  value: string,
  { base = nexus, also = {}, ...rest }: {
    base?: (env: Record<string, string>) => Record<string, string>;
    also?: Record<string, string>;
  } & Pick<Case, "args" | "secret"> = {},
): Case {
  return { program, variable, env: base({ ...also, [variable]: value }), ...rest };
}

/** The postgres backend with a database URL that parses. */
const POSTGRES = {
  SPIKE_NEXUS_BACKEND_STORE: "postgres",
  SPIKE_NEXUS_DB_URL: "postgres://spike@localhost:5432/spike",
};

const CASES: Case[] = [
  // Shamir
  bad("nexus", "SPIKE_NEXUS_SHAMIR_THRESHOLD", "4", { also: { SPIKE_NEXUS_SHAMIR_SHARES: "3" } }),
  bad("bootstrap", "SPIKE_NEXUS_SHAMIR_THRESHOLD", "5"),
  bad("nexus", "SPIKE_NEXUS_SHAMIR_SHARES", "three"),
  bad("nexus", "SPIKE_NEXUS_SHAMIR_SHARES", "4"),
  // Listen addresses
  bad("nexus", "SPIKE_NEXUS_TLS_PORT", ":https"),
  bad("nexus", "SPIKE_NEXUS_TLS_PORT", ":70000"),
  bad("nexus", "SPIKE_NEXUS_METRICS_PORT", ":9090"),
  bad("nexus", "SPIKE_NEXUS_METRICS_PORT", "70000"),
  bad("nexus", "SPIKE_NEXUS_AUDIT_FILE", "relative/audit.log"),
  bad("keeper", "SPIKE_KEEPER_TLS_PORT", "abc", { base: withSocket }),
  bad("keeper", "SPIKE_KEEPER_TLS_PORT", "127.0.0.1:65536", { base: withSocket }),
  // Backend and its settings
  bad("nexus", "SPIKE_NEXUS_BACKEND_STORE", "mongodb"),
  bad("nexus", "SPIKE_NEXUS_DATA_DIR", A_FILE),
  bad("nexus", "SPIKE_NEXUS_DATA_DIR", A_FILE, { also: { SPIKE_NEXUS_BACKEND_STORE: "sqlite" } }),
  bad("nexus", "SPIKE_NEXUS_DB_BUSY_TIMEOUT_MS", "5s", {
    also: { SPIKE_NEXUS_BACKEND_STORE: "sqlite" },
  }),
  bad("nexus", "SPIKE_NEXUS_DB_URL", `postgres://spike:${PASSWORD}@db.example:notaport/spike`, {
    also: { SPIKE_NEXUS_BACKEND_STORE: "postgres" },
    secret: PASSWORD,
  }),
  bad("nexus", "SPIKE_NEXUS_DB_URL", `host=localhost password=${PASSWORD} sslmode=sometimes`, {
    also: { SPIKE_NEXUS_BACKEND_STORE: "postgres" },
    secret: PASSWORD,
  }),
  {
    program: "nexus",
    variable: "SPIKE_NEXUS_DB_URL",
    env: nexus({ SPIKE_NEXUS_BACKEND_STORE: "postgres" }),
  },
  bad("nexus", "SPIKE_NEXUS_DB_MAX_OPEN_CONNS", "0", {
    also: POSTGRES,
  }),
  bad("nexus", "SPIKE_NEXUS_DB_OPERATION_TIMEOUT", "15 seconds", {
    also: POSTGRES,
  }),
  // Keepers
  bad(
    "nexus",
    "SPIKE_NEXUS_KEEPER_PEERS",
    "http://localhost:9443,https://localhost:9543,https://localhost:9643",
  ),
  bad("bootstrap", "SPIKE_NEXUS_KEEPER_PEERS", "localhost:9443,localhost:9543,localhost:9643"),
  { program: "nexus", variable: "SPIKE_NEXUS_KEEPER_PEERS", env: withSocket({}) },
  bad("nexus", "SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL", "5 minutes"),
  bad("nexus", "SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL", "-5m"),
  // Limits
  bad("nexus", "SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT", "10"),
  bad("keeper", "SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER", "lots", { base: withSocket }),
  bad("nexus", "SPIKE_NEXUS_RATE_LIMIT_READS", "fast"),
  bad("nexus", "SPIKE_HTTP_SERVER_MAX_CONNECTIONS", "-3"),
  bad("nexus", "SPIKE_NEXUS_MAX_SECRET_VERSIONS", "ten"),
  bad("nexus", "SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE", "1e9"),
  bad("nexus", "SPIKE_NEXUS_MAX_REQUEST_BODY_BYTES", "-1"),
  // Workload API socket and SVID files
  bad("keeper", "SPIFFE_ENDPOINT_SOCKET", "/no/scheme.sock", { base: bare }),
  bad("nexus", "SPIFFE_ENDPOINT_SOCKET", "unix://host/path.sock"),
  bad("keeper", "SPIFFE_ENDPOINT_SOCKET", `unix://${A_FOLDER}`, { base: bare }),
  bad("nexus", "SPIFFE_ENDPOINT_SOCKET", `unix://${A_FILE}`),
  bad("bootstrap", "SPIFFE_ENDPOINT_SOCKET", `unix://${A_FOLDER}`),
  bad("spike", "SPIFFE_ENDPOINT_SOCKET", `unix://${A_FOLDER}`, {
    base: bare,
    args: ["secret", "list"],
  }),
  bad("keeper", "SPIFFE_ENDPOINT_SOCKET", "tcp://localhost:8081", { base: bare }),
  bad("keeper", "SPIKE_SPIFFE_SOURCE_TIMEOUT", "forever", { base: withSocket }),
  bad("keeper", "SPIKE_SVID_CERT_FILE", A_FILE, { base: withSocket }),
  // Trust roots
  bad("nexus", "SPIKE_TRUST_ROOT_KEEPER", "spike!ist"),
  bad("keeper", "SPIKE_TRUST_ROOT_NEXUS", "Bad Domain", { base: withSocket }),
  bad("bootstrap", "SPIKE_TRUST_ROOT_BOOTSTRAP", "spike.ist,,other.org"),
  bad("nexus", "SPIKE_TRUST_ROOT_PILOT", "spike.ist/path"),
  bad("nexus", "SPIKE_TRUST_ROOT_LITE_WORKLOAD", "UPPER.case"),
  // Nexus URL (single URLs; the comma list is failover's)
  bad("spike", "SPIKE_NEXUS_API_URL", "http://localhost:8553", {
    base: withSocket,
    args: ["secret", "list"],
  }),
  bad("spike", "SPIKE_NEXUS_API_URL", "localhost 8553", {
    base: withSocket,
    args: ["secret", "list"],
  }),
  bad("bootstrap", "SPIKE_NEXUS_API_URL", "ftp://localhost:8553"),
  bad("bootstrap", "SPIKE_NEXUS_API_URL", "not a url"),
  // Bootstrap's own
  bad("bootstrap", "SPIKE_BOOTSTRAP_FORCE", "yes"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_KEEPER_TIMEOUT", "30"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_KEEPER_MAX_RETRIES", "many"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_KEEPER_RETRY_INITIAL_INTERVAL", "2 s"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_KEEPER_RETRY_MAX_INTERVAL", "1d"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_INIT_VERIFICATION_TIMEOUT", "half an hour"),
  bad("bootstrap", "SPIKE_BOOTSTRAP_TIMEOUT", "none"),
  // Pilot's own
  bad("spike", "SPIKE_HTTP_CLIENT_TIMEOUT", "60", { base: withSocket, args: ["secret", "list"] }),
  // Log level, every program
  // (Pilot writes no log: it does not read SPIKE_SYSTEM_LOG_LEVEL.)
  ...(["nexus", "keeper", "bootstrap"] as const).map((program) =>
    bad(program, "SPIKE_SYSTEM_LOG_LEVEL", "LOUD")
  ),
];

/** What someone writing their own `deno run` line would grant: the usual ports. */
const FIXED_HOSTS = [
  "localhost:9443",
  "localhost:9543",
  "localhost:9643",
  "localhost:8553",
  "0.0.0.0:8553",
  "0.0.0.0:8443",
];

/** The socket file of a `unix://` address, to grant it as the user would. */
function socketPath(address: string | undefined): string | undefined {
  return address?.startsWith("unix:///") ? address.slice("unix://".length) : undefined;
}

interface Outcome {
  code: number;
  stderr: string;
  stdout: string;
  ms: number;
}

/** A run that has not stopped after this long is killed and counted as a failure. */
const GIVE_UP_MS = 20_000;

/** Kills `pid` and what it started (`deno task` leaves the program as its child). */
function killTree(pid: number): void {
  let children = "";
  try {
    children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
  } catch { /* already gone */ }
  for (const child of children.trim().split(/\s+/).filter(Boolean)) killTree(Number(child));
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* already gone */ }
}

async function timed(command: Deno.Command): Promise<Outcome> {
  const start = performance.now();
  const child = command.spawn();
  const timer = setTimeout(() => killTree(child.pid), GIVE_UP_MS);
  const out = await child.output();
  clearTimeout(timer);
  const ms = performance.now() - start;
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr), ms };
}

async function timedProc(
  child: {
    ended(): Promise<Deno.CommandStatus>;
    stderr(): string;
    stdout(): string;
    stop(signal?: Deno.Signal): Promise<unknown>;
  },
): Promise<Outcome> {
  const start = performance.now();
  const timer = setTimeout(() => child.stop("SIGKILL"), GIVE_UP_MS);
  const status = await within(child.ended(), GIVE_UP_MS + 5_000, "a program stopping");
  clearTimeout(timer);
  const ms = performance.now() - start;
  return { code: status.code, stdout: child.stdout(), stderr: child.stderr(), ms };
}

/**
 * `deno task -q <program>` from the drill's folder, with only `env`; with
 * `print`, the launcher only prints the command: its time is what the task
 * adds before the program's own process starts.
 */
function viaTask(c: Case, print = false): Deno.Command {
  const args = [...print ? ["--print-permissions"] : [], ...c.args ?? []];
  return new Deno.Command("deno", {
    args: ["task", "-q", "--config", join(ROOT, "deno.json"), c.program, ...args],
    cwd: DIR,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH")!, HOME: DIR, DENO_DIR, NO_COLOR: "1", ...c.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** How long `deno run` takes for a module that does nothing: Deno's own start. */
async function denoStartMs(): Promise<number> {
  const file = join(DIR, "empty.ts");
  await Deno.writeTextFile(file, "");
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = await timed(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--config", join(ROOT, "deno.json"), file],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    );
    assert.equal(out.code, 0, `deno run of an empty module failed: ${out.stderr}`);
    runs.push(out.ms);
  }
  return Math.min(...runs);
}

/** The checks of one run; returns the time to exit after Deno's start, or the failure. */
function check(
  c: Case,
  how: string,
  out: Outcome,
  baseMs: number,
  starts: number,
): number | string {
  try {
    return checkOrThrow(c, how, out, baseMs, starts);
  } catch (e) {
    return (e as Error).message;
  }
}

function checkOrThrow(
  c: Case,
  how: string,
  out: Outcome,
  baseMs: number,
  starts: number,
): number {
  const label = `${c.program} ${how} ${
    JSON.stringify(c.env[c.variable] ?? "(unset)")
  } (${c.variable})`;
  const err = out.stderr.trim();
  assert.notEqual(out.code, 0, `${label}: exit code 0; stderr: ${err}`);
  assert.ok(err.length > 0, `${label}: nothing on stderr`);
  assert.ok(!err.includes("\n"), `${label}: more than one line on stderr:\n${err}`);
  assert.ok(err.includes(c.variable), `${label}: does not name ${c.variable}: ${err}`);
  for (const trace of ["at file://", "Stack backtrace", "error: Uncaught", "    at "]) {
    assert.ok(!err.includes(trace), `${label}: a stack trace: ${err}`);
  }
  if (c.secret) {
    assert.ok(!(out.stderr + out.stdout).includes(c.secret), `${label}: repeats the password`);
  }
  const ms = Math.max(0, out.ms - baseMs * starts);
  assert.ok(ms < HANG_MS, `${label}: took ${Math.round(ms)}ms after Deno's start (${err})`);
  return ms;
}

Deno.test("config drill: every invalid setting stops the program at once with one sentence", async () => {
  try {
    const baseMs = await denoStartMs();
    // Deno's one-time work (transpiling changed modules into its cache) is not the program's.
    for (const program of new Set(CASES.map((c) => c.program))) {
      await timed(viaTask(CASES.find((c) => c.program === program)!));
    }
    let worst = 0;
    let worstWall = 0;
    let worstLabel = "";
    let runs = 0;
    let retried = 0;
    let overPromise = 0;
    const failures: string[] = [];
    for (const c of CASES) {
      // A run over the limit is tried once more (the machine is shared); its second time counts.
      const hand = () =>
        timedProc(
          spawnProgram(c.program, {
            byHand: true,
            env: c.env,
            args: c.args,
            socket: socketPath(c.env.SPIFFE_ENDPOINT_SOCKET),
            hosts: FIXED_HOSTS,
            folders: [DIR],
          }),
        );
      // Through the task, the program's process starts when `deno task` and the launcher are done.
      const launcher = await timed(viaTask(c, true));
      assert.equal(launcher.code, 0, `the launcher failed for ${c.variable}: ${launcher.stderr}`);
      let taskRun = await timed(viaTask(c));
      let task = check(c, "via deno task", taskRun, baseMs + launcher.ms, 1);
      // A run killed at GIVE_UP_MS printed nothing: a slow run too, tried once more.
      const slow = (r: string | number) =>
        typeof r === "string" && (r.includes(" took ") || r.endsWith("nothing on stderr"));
      if (slow(task)) {
        retried++;
        taskRun = await timed(viaTask(c));
        task = check(c, "via deno task", taskRun, baseMs + launcher.ms, 1);
      }
      let handRun = await hand();
      let byHand = check(c, "via deno run", handRun, baseMs, 1);
      if (slow(byHand)) {
        retried++;
        handRun = await hand();
        byHand = check(c, "via deno run", handRun, baseMs, 1);
      }
      if (typeof task === "number" && typeof byHand === "number") {
        const [a, b] = [taskRun.stderr.trim(), handRun.stderr.trim()];
        if (a !== b) {
          failures.push(`${c.program} ${c.variable}: the launcher says "${a}", deno run "${b}"`);
        }
      }
      worstWall = Math.max(worstWall, taskRun.ms, handRun.ms);
      runs += 2;
      for (const ms of [task, byHand]) {
        if (typeof ms === "string") {
          failures.push(ms);
          continue;
        }
        if (ms > PROMISE_MS) overPromise++;
        if (ms > worst) {
          worst = ms;
          worstLabel = `${c.program} ${c.variable}`;
        }
      }
    }
    assert.deepEqual(failures, [], `${failures.length} runs failed:\n${failures.join("\n")}`);
    console.log(
      `config drill: ${CASES.length} cases, ${runs} starts, worst time to exit ` +
        `${Math.round(worst)}ms after Deno's start (${worstLabel}; Deno start ${
          Math.round(baseMs)
        }ms; worst wall time ${
          Math.round(worstWall)
        }ms; ${overPromise} over ${PROMISE_MS}ms; ${retried} ` +
        "runs retried once)",
    );
  } finally {
    await Deno.remove(DIR, { recursive: true }).catch(() => {});
  }
});
