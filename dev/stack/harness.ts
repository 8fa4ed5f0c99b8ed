/**
 * Starts SPIKE's programs as separate processes, each with the grants the
 * launcher computes for its temp configuration: a dev agent,
 * Keepers, Nexus, Bootstrap and Pilot, talking over loopback and unix sockets.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { launchCommand } from "../../launch/command.ts";
import { permissionFlags } from "../../launch/flags.ts";
import { reachFor } from "../../launch/reach.ts";
import { type BackendKind, type Program, PROGRAMS } from "../../lib/config/programs.ts";
import { startAgent, type TestAgent } from "./agent.ts";
import { within } from "./process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The identities a stack's agent serves, by socket name. */
export const STACK_IDENTITIES = {
  nexus: "spiffe://spike.ist/spike/nexus",
  keeper: "spiffe://spike.ist/spike/keeper",
  bootstrap: "spiffe://spike.ist/spike/bootstrap",
  pilot: "spiffe://spike.ist/spike/pilot/role/superuser",
  "pilot-recover": "spiffe://spike.ist/spike/pilot/role/recover",
  "pilot-restore": "spiffe://spike.ist/spike/pilot/role/restore",
  "lite-workload": "spiffe://spike.ist/spike/workload/role/lite",
  "workload-a": "spiffe://spike.ist/workload/a",
  "workload-b": "spiffe://spike.ist/workload/b",
} as const;

/** A socket name of the stack's agent. */
export type Identity = keyof typeof STACK_IDENTITIES;

/**
 * Ports handed out below Linux's ephemeral range (32768–60999 by default): a port the kernel
 * chose for `port: 0` and that was then released is also what it gives the next outgoing
 * connection, and with test files running side by side (the listener drill alone opens a
 * thousand) a program then found its port taken.
 */
const PORT_RANGE = { from: 20_000, to: 32_767 } as const;

/** Ports this process handed out: free when chosen, but maybe not yet bound by their program. */
const handedOut = new Set<number>();

/**
 * A free loopback port (bound and released; fine for tests on one machine). Never the same
 * port twice in one process (a port chosen for one program is free until that program binds it,
 * so a second call could pick it again), and each process draws from its own slice of the range
 * (by process id) so that two test files running side by side rarely reach for the same port.
 */
export function freePort(): number {
  const span = PORT_RANGE.to - PORT_RANGE.from;
  const slices = 16;
  const sliceSize = Math.floor(span / slices);
  const slice = Deno.pid % slices;
  for (let attempt = 0; attempt < 400; attempt++) {
    // The first half of the attempts stay in this process's slice, the rest roam the range.
    const port = attempt < 200
      ? PORT_RANGE.from + slice * sliceSize + Math.floor(Math.random() * sliceSize)
      : PORT_RANGE.from + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      handedOut.add(port);
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  throw new Error(`no free port between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

/** A running program, its stdout and stderr collected (and copied to `tee`, e.g. a log file). */
export class Proc {
  #stderr = "";
  #stdout = "";
  #all = "";
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(
    readonly name: string,
    child: Deno.ChildProcess,
    tee?: (chunk: Uint8Array) => Promise<unknown>,
  ) {
    this.#child = child;
    const pump = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        onText(text);
        this.#all += text;
        await tee?.(chunk).catch(() => {});
      }
    };
    this.#pumps = Promise.all([
      pump(child.stderr, (t) => this.#stderr += t),
      pump(child.stdout, (t) => this.#stdout += t),
    ]).then(() => {});
    this.status = child.status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  stderr(): string {
    return this.#stderr;
  }

  stdout(): string {
    return this.#stdout;
  }

  /** Resolves when the process has ended and all its output is read. */
  async ended(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#pumps;
    return status;
  }

  /** Both streams, in the order they came. */
  output(): string {
    return this.#all;
  }

  /**
   * Waits until stderr (or, with `stream: "any"`, either stream) matches `pattern`,
   * counting only text after `from` characters.
   */
  async waitFor(
    pattern: RegExp,
    ms = 20_000,
    from = 0,
    stream: "stderr" | "any" = "stderr",
  ): Promise<void> {
    const text = () => (stream === "any" ? this.#all : this.#stderr).slice(from);
    const deadline = Date.now() + ms;
    while (!pattern.test(text())) {
      const ended = await Promise.race([
        this.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 25)),
      ]);
      if (ended && !pattern.test(text())) {
        throw new ProcError(
          `${this.name} exited before printing ${pattern}; stderr:\n${this.#stderr}`,
          true,
        );
      }
      if (Date.now() > deadline) {
        throw new ProcError(
          `${this.name} did not print ${pattern} within ${ms}ms; stderr:\n${this.#stderr}`,
          false,
        );
      }
    }
  }

  /** Sends `signal` and waits for the process to end (SIGKILL after `killAfterMs`, if given). */
  async stop(signal: Deno.Signal = "SIGTERM", killAfterMs?: number): Promise<Deno.CommandStatus> {
    const kill = (s: Deno.Signal) => {
      try {
        this.#child.kill(s);
      } catch {
        // already gone
      }
    };
    kill(signal);
    const timer = killAfterMs === undefined
      ? undefined
      : setTimeout(() => kill("SIGKILL"), killAfterMs);
    const status = await this.status;
    clearTimeout(timer);
    await this.#pumps;
    return status;
  }
}

/** A program that did not print what was awaited: it `exited`, or time ran out. */
export class ProcError extends Error {
  constructor(message: string, readonly exited: boolean) {
    super(message);
  }
}

/**
 * Starts `program` as the tasks do: with the grants the launcher computes
 * from the environment and arguments given (plus `folders`, for files a test
 * names itself). A release bundle (`entry`) is run as an executable, so its
 * own embedded launcher computes them.
 */
export function spawnProgram(
  program: Program,
  options: {
    /** Its Workload API socket (`SPIFFE_ENDPOINT_SOCKET`). */
    socket?: string;
    /** Extra folders to grant read and write on (beyond what the configuration names). */
    folders?: string[];
    /**
     * Grant only the socket, `hosts` and `folders`, as someone running `deno run` by hand
     * with their own flags would (to test the start-time check).
     */
    byHand?: boolean;
    /** With `byHand`: the addresses granted. */
    hosts?: string[];
    env?: Record<string, string>;
    args?: string[];
    /** Text written to the program's stdin (then closed); stdin is empty otherwise. */
    stdin?: string;
    name?: string;
    /** Run this file (a release bundle) instead of the program's source entry. */
    entry?: string;
    /** The Deno executable (default this one's; `deno task dev` may run only `deno` by name). */
    deno?: string;
    /** Keep this process's environment (the dev stack may not read it to pass it on). */
    inheritEnv?: boolean;
    /** Receives the program's output as it comes. */
    tee?: (chunk: Uint8Array) => Promise<unknown>;
  },
): Proc {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    ...(options.socket ? { SPIFFE_ENDPOINT_SOCKET: `unix://${options.socket}` } : {}),
    ...options.env,
  };
  const args = options.args ?? [];
  let argv: string[];
  if (options.entry) {
    // The bundle's sh header finds `deno` on PATH.
    env.PATH = `${dirname(Deno.execPath())}:/usr/bin:/bin`;
    argv = [options.entry, ...args];
  } else {
    const config = { env, args, cwd: ROOT };
    const reach = options.byHand
      ? {
        sockets: options.socket ? [options.socket] : [],
        hosts: options.hosts,
        folders: options.folders,
      }
      : reachFor(program, config);
    if (!options.byHand) reach.folders = [...reach.folders ?? [], ...options.folders ?? []];
    argv = launchCommand(program, { kind: "checkout", root: ROOT }, config, {
      deno: options.deno,
    }).argv;
    // Same command, with the extra folders granted.
    const at = argv.indexOf(join(ROOT, PROGRAMS[program].entry));
    argv = [...argv.slice(0, 4), ...permissionFlags(program, reach), ...argv.slice(at)];
  }
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    clearEnv: !options.inheritEnv,
    cwd: ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    writer.write(new TextEncoder().encode(options.stdin)).then(() => writer.close()).catch(
      () => {},
    );
  }
  return new Proc(options.name ?? program, child, options.tee);
}

/** Options for {@link Stack.start}. */
export interface StackOptions {
  keepers?: number;
  threshold?: number;
  backend?: BackendKind;
  /** The postgres backend's database (a `PgCluster`, ./postgres.ts); its password goes in a file. */
  postgres?: { hostPort: string; url: string; password: string };
  /** `SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL`. */
  updateInterval?: string;
  /** The agent's SVID lifetime (renewed at half of it; default 1h). */
  agentTtl?: string;
  /** Start Keepers and Nexus and run Bootstrap (default true). */
  bootstrap?: boolean;
  /** Extra environment for every Nexus start. */
  nexusEnv?: Record<string, string>;
  /** Files to run instead of the programs' sources (release bundles), and their environment. */
  bundles?: { files: Partial<Record<Program, string>>; env: Record<string, string> };
}

/** A whole SPIKE deployment on loopback. */
export class Stack {
  readonly keeperPorts: number[];
  readonly nexusPort = freePort();
  readonly keepers: (Proc | undefined)[] = [];
  nexus: Proc | undefined;
  /** Extra Nexus replicas (1, 2, ...; 0 is {@link nexus}): their ports and processes. */
  readonly replicaPorts = new Map<number, number>();
  readonly replicas = new Map<number, Proc>();

  private constructor(
    readonly agent: TestAgent,
    readonly dir: string,
    readonly options: Required<StackOptions>,
  ) {
    this.keeperPorts = Array.from({ length: options.keepers }, () => freePort());
  }

  /** Starts the agent, and (unless told not to) Keepers, Nexus and Bootstrap. */
  static async start(options: StackOptions = {}): Promise<Stack> {
    const dir = await Deno.makeTempDir({ prefix: "spike-stack-" });
    const agent = await startAgent({
      identities: Object.entries(STACK_IDENTITIES).map(([s, id]) => `${s}=${id}`),
      dir: join(dir, "agent"),
      ttl: options.agentTtl,
    });
    const stack = new Stack(agent, dir, {
      keepers: options.keepers ?? 3,
      threshold: options.threshold ?? 2,
      backend: options.backend ?? "kv",
      updateInterval: options.updateInterval ?? "5m",
      agentTtl: options.agentTtl ?? "1h",
      bootstrap: options.bootstrap ?? true,
      nexusEnv: options.nexusEnv ?? {},
      postgres: options.postgres ?? { hostPort: "", url: "", password: "" },
      bundles: options.bundles ?? { files: {}, env: {} },
    });
    if (stack.options.bootstrap) {
      for (let i = 0; i < stack.options.keepers; i++) await stack.startKeeper(i);
      await stack.startNexus();
      const boot = await stack.runBootstrap();
      if (boot.code !== 0) throw new Error(`bootstrap failed:\n${boot.stderr}`);
    }
    return stack;
  }

  socket(identity: Identity): string {
    return this.agent.socketPath(identity);
  }

  get nexusUrl(): string {
    return `https://127.0.0.1:${this.nexusPort}`;
  }

  get keeperUrls(): string[] {
    return this.keeperPorts.map((p) => `https://127.0.0.1:${p}`);
  }

  get dataDir(): string {
    return join(this.dir, "nexus-data");
  }

  /** Environment shared by Nexus and Bootstrap. */
  get sharedEnv(): Record<string, string> {
    return {
      SPIKE_NEXUS_KEEPER_PEERS: this.keeperUrls.join(","),
      SPIKE_NEXUS_SHAMIR_SHARES: String(this.options.keepers),
      SPIKE_NEXUS_SHAMIR_THRESHOLD: String(this.options.threshold),
      SPIKE_NEXUS_API_URL: this.nexusUrl,
    };
  }

  async startKeeper(i: number): Promise<Proc> {
    const host = `127.0.0.1:${this.keeperPorts[i]}`;
    const keeper = spawnProgram("keeper", {
      socket: this.socket("keeper"),
      env: { ...this.options.bundles.env, SPIKE_KEEPER_TLS_PORT: host },
      name: `keeper-${i + 1}`,
      entry: this.options.bundles.files.keeper,
    });
    this.keepers[i] = keeper;
    await keeper.waitFor(/"msg":"ready"/);
    return keeper;
  }

  async stopKeeper(i: number, signal: Deno.Signal = "SIGKILL"): Promise<void> {
    await this.keepers[i]?.stop(signal);
    this.keepers[i] = undefined;
  }

  /** The URL of Nexus replica `i` (0 is the first Nexus). */
  replicaUrl(i: number): string {
    return i === 0 ? this.nexusUrl : `https://127.0.0.1:${this.#replicaPort(i)}`;
  }

  #replicaPort(i: number): number {
    if (!this.replicaPorts.has(i)) this.replicaPorts.set(i, freePort());
    return this.replicaPorts.get(i)!;
  }

  /**
   * Starts Nexus and waits until it listens (not until it has its key), or until its stderr
   * matches `until`. With `replica` ≥ 1, an extra replica on its own port and data folder, with
   * the same Keepers and (postgres) database.
   */
  async startNexus(
    env: Record<string, string> = {},
    replica = 0,
    until = /"msg":"listening"/,
  ): Promise<Proc> {
    const port = replica === 0 ? this.nexusPort : this.#replicaPort(replica);
    const host = `127.0.0.1:${port}`;
    const dataDir = replica === 0 ? this.dataDir : `${this.dataDir}-${replica}`;
    const pg = this.options.backend === "postgres" ? this.options.postgres : undefined;
    const pgEnv: Record<string, string> = {};
    if (pg) {
      // The password never goes on a command line: a file Nexus may read (in its data folder).
      await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
      const passwordFile = join(dataDir, "db-password");
      await Deno.writeTextFile(passwordFile, `${pg.password}\n`, { mode: 0o600 });
      pgEnv.SPIKE_NEXUS_DB_URL = pg.url;
      pgEnv.SPIKE_NEXUS_DB_PASSWORD_FILE = passwordFile;
    }
    const nexus = spawnProgram("nexus", {
      socket: this.socket("nexus"),
      folders: [dataDir],
      name: replica === 0 ? "nexus" : `nexus-${replica}`,
      entry: this.options.bundles.files.nexus,
      env: {
        ...this.options.bundles.env,
        ...this.sharedEnv,
        SPIKE_NEXUS_TLS_PORT: host,
        SPIKE_NEXUS_BACKEND_STORE: this.options.backend,
        SPIKE_NEXUS_DATA_DIR: dataDir,
        SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL: this.options.updateInterval,
        SPIKE_SYSTEM_LOG_LEVEL: "INFO",
        ...pgEnv,
        ...this.options.nexusEnv,
        ...env,
      },
    });
    if (replica === 0) this.nexus = nexus;
    else this.replicas.set(replica, nexus);
    await nexus.waitFor(until);
    return nexus;
  }

  /** Stops Nexus (or replica `replica`). */
  async stopNexus(signal: Deno.Signal = "SIGKILL", replica = 0): Promise<void> {
    if (replica !== 0) {
      await this.replicas.get(replica)?.stop(signal);
      this.replicas.delete(replica);
      return;
    }
    await this.nexus?.stop(signal);
    this.nexus = undefined;
  }

  /** Runs Bootstrap to completion. */
  async runBootstrap(env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
    const boot = spawnProgram("bootstrap", {
      socket: this.socket("bootstrap"),
      entry: this.options.bundles.files.bootstrap,
      env: {
        ...this.options.bundles.env,
        ...this.sharedEnv,
        SPIKE_BOOTSTRAP_KEEPER_RETRY_INITIAL_INTERVAL: "200ms",
        SPIKE_BOOTSTRAP_INIT_VERIFICATION_TIMEOUT: "60s",
        ...env,
      },
    });
    const status = await within(boot.status, 90_000, "bootstrap finishing");
    await boot.stop();
    return { code: status.code, stderr: boot.stderr() };
  }

  /** Runs `spike` with an identity's socket; `stdin` text is piped in. */
  async spike(
    identity: Identity,
    args: string[],
    options: {
      stdin?: string;
      env?: Record<string, string>;
      folders?: string[];
      /** Grant only the socket, Nexus and `folders` (see {@link spawnProgram}). */
      byHand?: boolean;
    } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const proc = spawnProgram("spike", {
      socket: this.socket(identity),
      folders: options.folders,
      byHand: options.byHand,
      hosts: [`127.0.0.1:${this.nexusPort}`],
      env: { ...this.options.bundles.env, SPIKE_NEXUS_API_URL: this.nexusUrl, ...options.env },
      entry: this.options.bundles.files.spike,
      args,
      stdin: options.stdin,
      name: `spike ${args.join(" ")}`,
    });
    const status = await within(proc.status, 60_000, `spike ${args.join(" ")}`);
    await proc.stop();
    return { code: status.code, stdout: proc.stdout(), stderr: proc.stderr() };
  }

  /** Stops everything and removes the temp folder. */
  async stop(): Promise<void> {
    for (const i of [...this.replicas.keys()]) await this.stopNexus("SIGTERM", i);
    await this.stopNexus("SIGTERM");
    for (let i = 0; i < this.keepers.length; i++) await this.stopKeeper(i, "SIGTERM");
    await this.agent.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
