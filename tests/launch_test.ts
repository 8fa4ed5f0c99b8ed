/**
 * The whole stack started only through `deno task <program>`, from a folder
 * outside the checkout, with every port, the data folder and every Workload
 * API socket different from the defaults and Keepers and Nexus named by host
 * name: the launcher must grant exactly what that configuration names.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../lib/program/version.ts";
import { within } from "./support/programs.ts";
import { freePort, Proc } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");

/** `deno task -q <name> ...args` run from `cwd`, with only `env` (and PATH, HOME, DENO_DIR). */
function task(name: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return new Deno.Command("deno", {
    args: ["task", "-q", "--config", join(ROOT, "deno.json"), name, ...args],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH")!, HOME: cwd, DENO_DIR, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function output(command: Deno.Command) {
  const out = await within(command.output(), 90_000, "a task finishing");
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The one child of `pid` (the program `deno task` started). */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
    const [child] = children.trim().split(/\s+/).filter(Boolean).map(Number);
    if (child) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${pid} started no program`);
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The dev agent prints its ready line on stdout. */
async function agentReady(agent: Proc): Promise<void> {
  for (let i = 0; i < 600 && !agent.stdout().includes("ready:"); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(agent.stdout(), /ready:/, `agent did not start: ${agent.stderr()}`);
}

interface Deployment {
  dir: string;
  sockets: string;
  agent: Proc;
  keepers: Proc[];
  keeperPorts: number[];
  nexusPort: number;
  stop(): Promise<void>;
}

async function deploy(): Promise<Deployment> {
  // Outside the checkout and outside /tmp/spire-agent, laid out like a SPIRE host.
  const dir = await Deno.makeTempDir({ prefix: "spike-launch-" });
  const sockets = join(dir, "run/spire/sockets");
  const agent = new Proc(
    "agent",
    task("agent", ["serve", "--data-dir", join(dir, "agent"), "--socket-dir", sockets], dir)
      .spawn(),
  );
  const procs: Proc[] = [agent];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await agentReady(agent);
    const keeperPorts = [freePort(), freePort(), freePort()];
    const keepers = keeperPorts.map((port, i) => {
      const keeper = new Proc(
        `keeper-${i + 1}`,
        task("keeper", [], dir, {
          SPIFFE_ENDPOINT_SOCKET: `unix://${sockets}/keeper.sock`,
          SPIKE_KEEPER_TLS_PORT: `127.0.0.1:${port}`,
          SPIKE_SYSTEM_LOG_LEVEL: "INFO",
        }).spawn(),
      );
      procs.push(keeper);
      return keeper;
    });
    for (const keeper of keepers) await keeper.waitFor(/"msg":"ready"/, 30_000);
    return { dir, sockets, agent, keepers, keeperPorts, nexusPort: freePort(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

Deno.test("the stack runs through the tasks with a configuration that is all non-default", async () => {
  for (const backend of ["kv", "sqlite"]) {
    const d = await deploy();
    try {
      const nexusUrl = `https://localhost:${d.nexusPort}`; // a host name, granted by name
      const metricsPort = freePort();
      await Deno.mkdir(join(d.dir, "var/log"), { recursive: true });
      const auditFile = join(d.dir, `var/log/spike-${backend}.audit`);
      const shared = {
        SPIKE_NEXUS_KEEPER_PEERS: d.keeperPorts.map((p) => `https://localhost:${p}`).join(","),
        SPIKE_NEXUS_API_URL: nexusUrl,
      };
      const nexusEnv = {
        ...shared,
        SPIFFE_ENDPOINT_SOCKET: `unix://${d.sockets}/nexus.sock`,
        SPIKE_NEXUS_TLS_PORT: `127.0.0.1:${d.nexusPort}`,
        SPIKE_NEXUS_BACKEND_STORE: backend,
        SPIKE_NEXUS_DATA_DIR: join(d.dir, `var/lib/spike-${backend}`),
        SPIKE_NEXUS_METRICS_PORT: String(metricsPort),
        SPIKE_NEXUS_AUDIT_FILE: auditFile,
        SPIKE_SYSTEM_LOG_LEVEL: "INFO",
      };
      const startNexus = async () => {
        const nexus = new Proc("nexus", task("nexus", [], d.dir, nexusEnv).spawn());
        await nexus.waitFor(/"msg":"listening"/, 30_000);
        return nexus;
      };
      let nexus = await startNexus();
      try {
        const boot = await output(task("bootstrap", [], d.dir, {
          ...shared,
          SPIFFE_ENDPOINT_SOCKET: `unix://${d.sockets}/bootstrap.sock`,
          SPIKE_BOOTSTRAP_KEEPER_RETRY_INITIAL_INTERVAL: "200ms",
        }));
        assert.equal(boot.code, 0, `${backend} bootstrap: ${boot.stderr}`);
        const spike = (args: string[]) =>
          output(task("spike", args, d.dir, {
            SPIFFE_ENDPOINT_SOCKET: `unix://${d.sockets}/pilot.sock`,
            SPIKE_NEXUS_API_URL: nexusUrl,
          }));
        // A file named relative to the caller's folder (not the checkout).
        await Deno.writeTextFile(join(d.dir, "value.txt"), `from ${backend}`);
        const put = await spike(["secret", "put", "launch/app", "k=@value.txt"]);
        assert.equal(put.code, 0, put.stderr);
        const got = await spike(["secret", "get", "launch/app", "k"]);
        assert.equal(got.code, 0, got.stderr);
        assert.equal(got.stdout, `from ${backend}`);
        // The metrics listener and the audit file were granted too.
        const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        assert.match(await scrape.text(), /^spike_nexus_ready 1$/m);
        assert.match(await Deno.readTextFile(auditFile), /"path":"launch\/app"/);
        // The program's exit code is the task's.
        assert.equal((await spike(["secret", "get", "launch/none"])).code, 3);
        assert.equal((await spike(["no-such-command"])).code, 2);

        // kill -9 of Nexus itself (the process the task exec'd); it comes back with its key.
        const program = await childOf(nexus.pid);
        Deno.kill(program, "SIGKILL");
        assert.equal((await within(nexus.status, 10_000, "nexus dying")).code, 137);
        nexus = await startNexus();
        await nexus.waitFor(/root key recovered/, 30_000);
        const again = await spike(["secret", "get", "launch/app", "k"]);
        assert.equal(again.stdout, `from ${backend}`, again.stderr);
      } finally {
        await nexus.stop("SIGTERM");
      }
    } finally {
      await d.stop();
    }
  }
});

Deno.test("SIGINT to a task stops its program, whose exit code the task returns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-launch-sig-" });
  try {
    const agent = new Proc(
      "agent",
      task("agent", ["serve", "--data-dir", join(dir, "agent"), "--identity", "keeper"], dir)
        .spawn(),
    );
    // The agent answers SIGINT by closing its sockets and exiting 0.
    await agentReady(agent);
    const program = await childOf(agent.pid);
    assert.equal((await agent.stop("SIGINT")).code, 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!alive(program), "the program stopped with its task");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the grants are narrow: what the configuration does not name is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-launch-narrow-" });
  try {
    const data = join(dir, "data");
    const env = {
      SPIFFE_ENDPOINT_SOCKET: `unix://${dir}/nexus.sock`,
      SPIKE_NEXUS_TLS_PORT: "127.0.0.1:18653",
      SPIKE_NEXUS_DATA_DIR: data,
      SPIKE_NEXUS_KEEPER_PEERS: "https://keeper-1:8443,https://keeper-2:9443",
    };
    const printed = await output(task("nexus", ["--print-permissions"], dir, env));
    assert.equal(printed.code, 0, printed.stderr);
    const line = printed.stdout.trim();
    assert.match(
      line,
      /--allow-net=unix:\S+\/nexus\.sock,127\.0\.0\.1:18653,keeper-1:8443,keeper-2:9443 /,
    );
    assert.ok(line.includes(`--allow-read=${dir}/nexus.sock,${data} `), line);
    assert.ok(!/(^|\s)(-A|--allow-all|--allow-net|--allow-read)(\s|$)/.test(line), line);

    // The same flags on a probe instead of Nexus: the named things pass, the rest is refused.
    const all = line.split(" ").map((w) => w.replace(/^'(.*)'$/, "$1"));
    // cd DIR && DENO run --no-config FLAGS... BUNDLE: the start-up cache's bundle, no read grant
    assert.deepEqual([all[0], all[2], all[4], all[5]], ["cd", "&&", "run", "--no-config"]);
    assert.match(all.at(-1)!, new RegExp(`^${ROOT}\\.spike/cache/nexus-[0-9a-f]{64}\\.js$`));
    const flags = all.slice(6, -1);
    assert.ok(flags.every((f) => !f.includes("/.spike/cache")), "the bundle needs no grant");
    const probe = join(dir, "probe.ts");
    await Deno.mkdir(data);
    await Deno.writeTextFile(
      probe,
      `
      const tries = {
        dataDir: () => Deno.writeTextFileSync(${JSON.stringify(join(data, "x"))}, "1"),
        listen: () => Deno.listen({ hostname: "127.0.0.1", port: 18653 }).close(),
        otherFile: () => Deno.readTextFileSync("/etc/hostname"),
        checkout: () => Deno.readTextFileSync(${JSON.stringify(join(ROOT, "deno.json"))}),
        otherPort: () => Deno.listen({ hostname: "127.0.0.1", port: 18654 }).close(),
        otherEnv: () => Deno.env.get("PATH"),
        run: () => new Deno.Command("true").outputSync(),
      };
      const result = {};
      for (const [name, fn] of Object.entries(tries)) {
        try { fn(); result[name] = "ok"; } catch (e) { result[name] = e.name; }
      }
      console.log(JSON.stringify(result));
    `,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, probe],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      dataDir: "ok",
      listen: "ok",
      otherFile: "NotCapable",
      checkout: "NotCapable",
      otherPort: "NotCapable",
      otherEnv: "NotCapable",
      run: "NotCapable",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task install writes a spike command that works from any folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-install-" });
  try {
    const installed = await output(task("install", ["bin"], dir));
    assert.equal(installed.code, 0, installed.stderr);
    assert.equal(installed.stdout, `installed ${dir}/bin/spike\n`);
    const file = join(dir, "bin/spike");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o755);
    const env = { PATH: "/usr/bin:/bin", HOME: dir };
    const version = await new Deno.Command(file, {
      args: ["version"],
      cwd: dir,
      env,
      clearEnv: true,
    })
      .output();
    assert.equal(new TextDecoder().decode(version.stdout), `spike ${VERSION}\n`);
    // It finds the dev stack's socket as `deno task spike` does, and names the file it reads.
    const printed = await new Deno.Command(file, {
      args: ["--print-permissions", "secret", "put", "a/b", "k=@f.txt"],
      cwd: dir,
      env,
      clearEnv: true,
    }).output();
    const line = new TextDecoder().decode(printed.stdout);
    assert.ok(line.includes(`unix:${ROOT}.spike/agent/sockets/pilot.sock`), line);
    assert.ok(
      line.includes(`--allow-read=${ROOT}.spike/agent/sockets/pilot.sock,${dir}/f.txt `),
      line,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
