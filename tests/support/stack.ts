/**
 * Starts SPIKE's programs as separate processes, each with the permission
 * flags of `scripts/permissions.ts` for a temp configuration: a dev agent,
 * Keepers, Nexus, Bootstrap and Pilot, talking over loopback and unix sockets.
 *
 * @module
 */

import { join } from "node:path";
import { ENTRY, permissionFlags, type Program } from "../../scripts/permissions.ts";
import { startAgent, type TestAgent } from "./agent.ts";
import { within } from "./programs.ts";

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

/** A free loopback port (bound and released; fine for tests on one machine). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A running program. */
export class Proc {
  #stderr = "";
  #stdout = "";
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(readonly name: string, child: Deno.ChildProcess) {
    this.#child = child;
    const pump = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
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

  /** Waits until stderr matches `pattern` (counting only text after `from` characters). */
  async waitFor(pattern: RegExp, ms = 20_000, from = 0): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.#stderr.slice(from))) {
      const ended = await Promise.race([
        this.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 25)),
      ]);
      if (ended && !pattern.test(this.#stderr.slice(from))) {
        throw new Error(`${this.name} exited before printing ${pattern}; stderr:\n${this.#stderr}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} did not print ${pattern} within ${ms}ms; stderr:\n${this.#stderr}`,
        );
      }
    }
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
    const status = await this.status;
    await this.#pumps;
    return status;
  }
}

/** Starts `program` with its flags for `reach` and the given environment. */
export function spawnProgram(
  program: Program,
  options: {
    socket: string;
    hosts?: string[];
    folders?: string[];
    env?: Record<string, string>;
    args?: string[];
    /** Text written to the program's stdin (then closed); stdin is empty otherwise. */
    stdin?: string;
    name?: string;
    /** Run this file (e.g. a release bundle) instead of the program's source entry. */
    entry?: string;
  },
): Proc {
  const flags = permissionFlags(program, {
    sockets: [options.socket],
    hosts: options.hosts,
    folders: options.folders,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, options.entry ?? join(ROOT, ENTRY[program]), ...(options.args ?? [])],
    env: {
      NO_COLOR: "1",
      SPIFFE_ENDPOINT_SOCKET: `unix://${options.socket}`,
      ...options.env,
    },
    clearEnv: true,
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
  return new Proc(options.name ?? program, child);
}

/** Options for {@link Stack.start}. */
export interface StackOptions {
  keepers?: number;
  threshold?: number;
  backend?: "kv" | "sqlite" | "memory" | "lite" | "postgres";
  /** The database of the postgres backend (tests/support/postgres.ts); its password goes in a file. */
  postgres?: { hostPort: string; url: string; password: string };
  /** `SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL`. */
  updateInterval?: string;
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
    });
    const stack = new Stack(agent, dir, {
      keepers: options.keepers ?? 3,
      threshold: options.threshold ?? 2,
      backend: options.backend ?? "kv",
      updateInterval: options.updateInterval ?? "5m",
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
      hosts: [host],
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

  /** Starts Nexus and waits until it listens (not until it has its key). */
  async startNexus(env: Record<string, string> = {}): Promise<Proc> {
    const host = `127.0.0.1:${this.nexusPort}`;
    const pg = this.options.backend === "postgres" ? this.options.postgres : undefined;
    const pgEnv: Record<string, string> = {};
    if (pg) {
      // The password never goes on a command line: a file Nexus may read (in its data folder).
      await Deno.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
      const passwordFile = join(this.dataDir, "db-password");
      await Deno.writeTextFile(passwordFile, `${pg.password}\n`, { mode: 0o600 });
      pgEnv.SPIKE_NEXUS_DB_URL = pg.url;
      pgEnv.SPIKE_NEXUS_DB_PASSWORD_FILE = passwordFile;
    }
    const nexus = spawnProgram("nexus", {
      socket: this.socket("nexus"),
      hosts: [host, ...this.keeperPorts.map((p) => `127.0.0.1:${p}`), ...(pg ? [pg.hostPort] : [])],
      folders: [this.dataDir],
      entry: this.options.bundles.files.nexus,
      env: {
        ...this.options.bundles.env,
        ...this.sharedEnv,
        SPIKE_NEXUS_TLS_PORT: host,
        SPIKE_NEXUS_BACKEND_STORE: this.options.backend,
        SPIKE_NEXUS_DATA_DIR: this.dataDir,
        SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL: this.options.updateInterval,
        SPIKE_SYSTEM_LOG_LEVEL: "INFO",
        ...pgEnv,
        ...this.options.nexusEnv,
        ...env,
      },
    });
    this.nexus = nexus;
    await nexus.waitFor(/"msg":"listening"/);
    return nexus;
  }

  async stopNexus(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    await this.nexus?.stop(signal);
    this.nexus = undefined;
  }

  /** Runs Bootstrap to completion. */
  async runBootstrap(env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
    const boot = spawnProgram("bootstrap", {
      socket: this.socket("bootstrap"),
      hosts: [`127.0.0.1:${this.nexusPort}`, ...this.keeperPorts.map((p) => `127.0.0.1:${p}`)],
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
    options: { stdin?: string; env?: Record<string, string>; folders?: string[] } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const proc = spawnProgram("spike", {
      socket: this.socket(identity),
      hosts: [`127.0.0.1:${this.nexusPort}`],
      folders: options.folders,
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
    await this.stopNexus("SIGTERM");
    for (let i = 0; i < this.keepers.length; i++) await this.stopKeeper(i, "SIGTERM");
    await this.agent.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
