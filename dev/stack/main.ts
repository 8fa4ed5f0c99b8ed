/**
 * `deno task dev`: the whole SPIKE stack on this machine, from one command.
 * Starts the dev agent, three Keepers (:8443, :8543, :8643) and Nexus (:8553,
 * kv backend in `.spike/nexus`), each as its own process with its own
 * permission flags, bootstraps the root key on the first start, and stops
 * everything on Ctrl-C.
 *
 * Starting again keeps the data. The dev Keepers lost their shares too, so
 * this runner (never the production programs) keeps break-the-glass shares
 * in `.spike/dev/recover` (mode 0600) and restores the root key from them
 * with `spike operator restore`, as an operator would.
 *
 * @module
 */

import { join } from "node:path";
import { Proc, ProcError, spawnProgram } from "./harness.ts";
import {
  DEFAULT_PORTS,
  DEV_HOST,
  DEV_LAYOUT,
  type Program,
  STORE_FILES,
} from "../../lib/config/programs.ts";
import { pathExists } from "../../lib/std/fs.ts";

const KEEPER_PORTS = DEFAULT_PORTS.keepers;
const NEXUS_PORT = DEFAULT_PORTS.nexus;
const HOST = DEV_HOST;
const THRESHOLD = 2;
const MIN_DENO = [2, 9];

// `deno task` runs in the folder of deno.json: the checkout.
const root = Deno.cwd();
const home = join(root, DEV_LAYOUT.home);
const paths = {
  agent: join(root, DEV_LAYOUT.agent),
  sockets: join(root, DEV_LAYOUT.sockets),
  nexus: join(root, DEV_LAYOUT.nexusData),
  recover: join(root, DEV_LAYOUT.recover),
  logs: join(root, DEV_LAYOUT.logs),
};
const socket = (name: string) => join(paths.sockets, `${name}.sock`);
const keeperUrls = KEEPER_PORTS.map((p) => `https://${HOST}:${p}`);
const nexusUrl = `https://${HOST}:${NEXUS_PORT}`;

class StartError extends Error {}

function say(line = ""): void {
  console.log(line);
}

/** A child program, its stderr and stdout appended to `.spike/logs/<name>.log`. */
class Child {
  constructor(readonly name: string, readonly proc: Proc, readonly log: Deno.FsFile) {}

  get done(): Promise<Deno.CommandStatus> {
    return this.proc.ended();
  }

  get output(): string {
    return this.proc.output();
  }

  async waitFor(pattern: RegExp, ms: number): Promise<void> {
    try {
      await this.proc.waitFor(pattern, ms, 0, "any");
    } catch (e) {
      if (!(e instanceof ProcError)) throw e;
      throw new StartError(
        e.exited
          ? `${this.name} stopped while starting; see ${join(paths.logs, this.name + ".log")}` +
            lastLine(this.output)
          : `${this.name} did not start within ${ms / 1000}s; see its log`,
      );
    }
  }

  async stop(): Promise<void> {
    await this.proc.stop("SIGTERM", 5000);
    this.log.close();
  }
}

function lastLine(output: string): string {
  const line = output.trim().split("\n").at(-1);
  if (!line) return "";
  try {
    const parsed = JSON.parse(line);
    return `: ${parsed.msg ?? line}`;
  } catch {
    return `: ${line}`;
  }
}

async function start(
  name: string,
  program: Program,
  env: Record<string, string>,
  args: string[] = [],
  stdin?: string,
): Promise<Child> {
  const log = await Deno.open(join(paths.logs, `${name}.log`), {
    append: true,
    create: true,
    mode: 0o600,
  });
  // The harness of the tests and the bench: each program gets the grants its configuration
  // names, as its task would give it. Deno by name, as the task grants it (`--allow-run=deno`).
  const proc = spawnProgram(program, {
    env,
    args,
    stdin,
    name,
    deno: "deno",
    inheritEnv: true,
    tee: (chunk) => log.write(chunk),
  });
  return new Child(name, proc, log);
}

/** Runs a one-shot program to its end; throws with its last line when it fails. */
async function once(child: Child): Promise<string> {
  const status = await child.done;
  if (!status.success) {
    throw new StartError(`${child.name} failed (exit ${status.code})${lastLine(child.output)}`);
  }
  return child.output;
}

function checkDeno(): void {
  const [major, minor] = Deno.version.deno.split(".").map(Number);
  if (major < MIN_DENO[0] || (major === MIN_DENO[0] && minor < MIN_DENO[1])) {
    throw new StartError(
      `SPIKE needs Deno ${MIN_DENO.join(".")} or newer, and this is Deno ${Deno.version.deno}; ` +
        "install it with: npm install --prefix ~/.deno-npm deno@2.9.6",
    );
  }
}

function checkPorts(): void {
  for (const port of [...KEEPER_PORTS, NEXUS_PORT]) {
    try {
      Deno.listen({ hostname: HOST, port }).close();
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new StartError(
          `port ${port} is already in use (another deno task dev, or another program); stop it first`,
        );
      }
      throw e;
    }
  }
}

async function recoveryFiles(): Promise<string[]> {
  const found: string[] = [];
  if (!(await pathExists(paths.recover))) return found;
  for await (const entry of Deno.readDir(paths.recover)) {
    if (/^spike\.recovery\.\d+\.txt$/.test(entry.name)) found.push(join(paths.recover, entry.name));
  }
  return found.sort();
}

const running: Child[] = [];
let stopping = false;

async function stopAll(): Promise<void> {
  stopping = true;
  for (const child of [...running].reverse()) await child.stop();
  running.length = 0;
}

function spike(
  name: string,
  identity: string,
  args: string[],
  stdin?: string,
) {
  return start(
    name,
    "spike",
    {
      SPIFFE_ENDPOINT_SOCKET: `unix://${socket(identity)}`,
      SPIKE_NEXUS_API_URL: nexusUrl,
      SPIKE_PILOT_RECOVERY_DIR: paths.recover,
    },
    args,
    stdin,
  );
}

async function main(): Promise<void> {
  checkDeno();
  checkPorts();
  for (const dir of [home, paths.logs, paths.nexus]) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const hasData = await pathExists(join(paths.nexus, STORE_FILES.kv));
  let shares = await recoveryFiles();
  if (hasData && shares.length < THRESHOLD) {
    throw new StartError(
      `Nexus has data from an earlier run in ${paths.nexus}, but its recovery shares in ` +
        `${paths.recover} are missing, so the root key cannot come back; delete ${home} to start over`,
    );
  }
  if (!hasData && shares.length > 0) {
    for (const file of shares) await Deno.remove(file); // shares of a key whose data is gone
    shares = [];
  }

  say("SPIKE dev stack: starting (logs in .spike/logs/)");
  let agent = await start(
    "agent",
    "agent",
    {},
    ["serve", "--data-dir", paths.agent],
  );
  running.push(agent);
  await agent.waitFor(/^ready:/m, 20_000);

  for (const [i, port] of KEEPER_PORTS.entries()) {
    const keeper = await start(`keeper-${i + 1}`, "keeper", {
      SPIFFE_ENDPOINT_SOCKET: `unix://${socket("keeper")}`,
      SPIKE_KEEPER_TLS_PORT: `${HOST}:${port}`,
      SPIKE_SYSTEM_LOG_LEVEL: "INFO",
    });
    running.push(keeper);
    await keeper.waitFor(/"msg":"ready"/, 20_000);
  }

  const shared = {
    SPIKE_NEXUS_KEEPER_PEERS: keeperUrls.join(","),
    SPIKE_NEXUS_SHAMIR_SHARES: String(KEEPER_PORTS.length),
    SPIKE_NEXUS_SHAMIR_THRESHOLD: String(THRESHOLD),
    SPIKE_NEXUS_API_URL: nexusUrl,
  };
  const nexus = await start("nexus", "nexus", {
    ...shared,
    SPIFFE_ENDPOINT_SOCKET: `unix://${socket("nexus")}`,
    SPIKE_NEXUS_TLS_PORT: `${HOST}:${NEXUS_PORT}`,
    SPIKE_NEXUS_BACKEND_STORE: "kv",
    SPIKE_NEXUS_DATA_DIR: paths.nexus,
    SPIKE_SYSTEM_LOG_LEVEL: "INFO",
  });
  running.push(nexus);
  await nexus.waitFor(/"msg":"listening"/, 20_000);

  if (shares.length === 0) {
    say("  first start: making the root key (Bootstrap)");
    await once(
      await start("bootstrap", "bootstrap", {
        ...shared,
        SPIFFE_ENDPOINT_SOCKET: `unix://${socket("bootstrap")}`,
      }),
    );
    await Deno.mkdir(paths.recover, { recursive: true, mode: 0o700 });
    await once(
      await spike("recover", "pilot-recover", ["operator", "recover"]),
    );
  } else {
    say("  restart: restoring the root key from .spike/dev/recover (dev convenience)");
    for (const file of shares) {
      const out = await once(
        await spike(
          "restore",
          "pilot-restore",
          ["operator", "restore"],
          await Deno.readTextFile(file),
        ),
      );
      if (/root key back/.test(out)) break;
    }
  }
  await nexus.waitFor(/root key (verified|restored|recovered)/, 30_000);

  say("");
  say("SPIKE is running. Ctrl-C stops everything; your data stays in .spike/.");
  say(`  Workload API  unix://${paths.sockets}/<name>.sock (trust domain spike.ist)`);
  say(`  Keepers       ${keeperUrls.join("  ")}`);
  say(`  Nexus         ${nexusUrl}  (kv backend in .spike/nexus)`);
  say("");
  say("Next, in another terminal in this folder:");
  say("  deno task -q spike secret put demo/db user=admin pass=-");
  say("  deno task -q spike secret get demo/db");
  say("  (or deno task install once, then spike ... from any folder)");
  say("");
  say("Note: recovery shares are kept in .spike/dev/recover so a restart keeps your data.");
  say("That is a development convenience only; production keeps them offline.");

  for (let agentRestarts = 0;;) {
    const first = await Promise.race(running.map((c) => c.done.then(() => c)));
    // Ctrl-C in a terminal reaches every process of the group at once: give our own
    // handler a moment before calling a child's exit unexpected.
    await new Promise((r) => setTimeout(r, 500));
    if (stopping) return;
    // Deno's node:http2 server can abort the agent on a client's RST_STREAM and GOAWAY
    // arriving together (see lib/spiffe/workloadapi/client.ts). The programs hold their
    // SVIDs and fetch again, so the stack starts the agent again instead of stopping.
    if (first === agent && agentRestarts < 3) {
      agentRestarts++;
      const status = await first.done;
      say(`agent stopped (exit ${status.code}); starting it again (see .spike/logs/agent.log)`);
      first.log.close();
      const again = await start("agent", "agent", {}, ["serve", "--data-dir", paths.agent]);
      running[running.indexOf(first)] = again;
      agent = again;
      await again.waitFor(/^ready:/m, 20_000);
      say("agent ready again");
      continue;
    }
    console.error(`${first.name} stopped unexpectedly; see .spike/logs/${first.name}.log`);
    await stopAll();
    Deno.exit(1);
  }
}

const onSignal = async () => {
  if (stopping) return;
  say("\nstopping...");
  await stopAll();
  say("stopped.");
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

try {
  await main();
} catch (e) {
  const text = e instanceof StartError ? e.message : `unexpected failure: ${(e as Error).message}`;
  console.error(`dev: ${text}`);
  await stopAll();
  Deno.exit(1);
}
