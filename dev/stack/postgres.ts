/**
 * A throwaway PostgreSQL cluster for tests and the bench: `initdb` into a fresh temp folder,
 * `pg_ctl start` on a free loopback port (fsync and synchronous_commit on, as
 * in production), password authentication, removed by {@link PgCluster.close}.
 * No system service is touched. When the tests run as root (CI does),
 * PostgreSQL refuses to run, so its tools run as the unprivileged `postgres`
 * user that Debian's package creates (`runuser -u postgres --`), and the
 * folder is handed to that user.
 *
 * When PostgreSQL is not installed, {@link POSTGRES_BIN} is null and the
 * postgres tests are ignored with a printed message (`.ci/run` installs it).
 *
 * @module
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./process.ts";
import { freePort } from "./harness.ts";

function findBin(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) {
      return Deno.realPathSync(join(dir, "initdb")).replace(/\/initdb$/, "");
    }
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a);
  for (const v of versions) {
    const bin = join(root, v, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

/** The folder of `initdb` and `pg_ctl`, or null when PostgreSQL is not installed. */
export const POSTGRES_BIN: string | null = findBin();

/** Why postgres tests are ignored, printed once when they are. */
export const POSTGRES_MISSING =
  "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): " +
  "the postgres backend tests are ignored. Install it with: apt-get install postgresql";

if (!POSTGRES_BIN) console.warn(`NOTE: ${POSTGRES_MISSING}`);

const IS_ROOT = Deno.uid() === 0;
const RUN_AS = "postgres";

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
  const uid = await run("id", ["-u", user]);
  const gid = await run("id", ["-g", user]);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new Error(
      `tests run as root but there is no "${user}" user to run PostgreSQL as ` +
        "(Debian's postgresql package creates it)",
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** A running test cluster. */
export class PgCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
  ) {}

  /** `host:port`, as Deno's `--allow-net` wants it. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A libpq URL for `database` (no password in it: pass {@link password} as PGPASSWORD). */
  url(database = "postgres", host = "127.0.0.1", query = "sslmode=disable"): string {
    return `postgresql://${this.user}@${host}:${this.port}/${database}?${query}`;
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** Initializes and starts a cluster; with `tls`, it also serves TLS with that certificate. */
  static async start(
    options: { tls?: { certPem: string; keyPem: string } } = {},
  ): Promise<PgCluster> {
    if (!POSTGRES_BIN) throw new Error(POSTGRES_MISSING);
    // As root, under /tmp: the postgres user must be able to reach it (a TMPDIR under /root is not).
    const dir = await Deno.makeTempDir({ prefix: "spike-pg-", dir: IS_ROOT ? "/tmp" : undefined });
    const password = crypto.randomUUID();
    const cluster = new PgCluster(dir, freePort(), "spike", password);
    await Deno.writeTextFile(join(dir, "pwfile"), password, { mode: 0o600 });
    if (IS_ROOT) {
      const { uid, gid } = await idOf(RUN_AS);
      await Deno.chown(dir, uid, gid);
      await Deno.chown(join(dir, "pwfile"), uid, gid);
    }
    await cluster.#tool("initdb", [
      "-D",
      cluster.dataDir,
      "-U",
      cluster.user,
      `--pwfile=${join(dir, "pwfile")}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      "--no-instructions",
    ]);
    await Deno.remove(join(dir, "pwfile"));
    const conf = [
      `port = ${cluster.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "fsync = on",
      "synchronous_commit = on",
      "max_connections = 100",
      "shared_buffers = 32MB",
    ].join("\n");
    let tls = "";
    if (options.tls) {
      // PostgreSQL wants the key private to its own user.
      await Deno.writeTextFile(join(cluster.dataDir, "server.crt"), options.tls.certPem);
      await Deno.writeTextFile(join(cluster.dataDir, "server.key"), options.tls.keyPem, {
        mode: 0o600,
      });
      if (IS_ROOT) {
        const { uid, gid } = await idOf(RUN_AS);
        for (const f of ["server.crt", "server.key"]) {
          await Deno.chown(join(cluster.dataDir, f), uid, gid);
        }
      }
      tls = "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'";
    }
    await Deno.writeTextFile(join(cluster.dataDir, "postgresql.conf"), `\n${conf}${tls}\n`, {
      append: true,
    });
    await cluster.resume();
    return cluster;
  }

  /** Starts the (stopped) server and waits until it accepts connections. */
  async resume(): Promise<void> {
    await this.#tool("pg_ctl", [
      "start",
      "-w",
      "-t",
      "60",
      "-D",
      this.dataDir,
      "-l",
      join(this.dir, "server.log"),
    ]);
  }

  /** Stops the server (`-m fast`: connections are cut, nothing committed is lost). */
  async pause(): Promise<void> {
    await this.#tool("pg_ctl", ["stop", "-w", "-m", "fast", "-D", this.dataDir]);
  }

  /** The server's processes: the postmaster and its children (backends, writers). */
  async pids(): Promise<number[]> {
    const pidFile = await Deno.readTextFile(join(this.dataDir, "postmaster.pid"));
    const main = Number(pidFile.split("\n")[0]);
    const pids = [main];
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
        // "pid (comm) state ppid ...": the name may hold spaces, so read after its ")".
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === main) pids.push(Number(entry.name));
      } catch { /* ended meanwhile */ }
    }
    return pids;
  }

  /**
   * Freezes the server (SIGSTOP to its processes): connections stay open and
   * new ones are accepted by the kernel, but nothing answers, as when the
   * network to the database drops packets. {@link thaw} undoes it.
   */
  async freeze(): Promise<void> {
    for (const pid of await this.pids()) Deno.kill(pid, "SIGSTOP");
  }

  /** Lets a frozen server run again (SIGCONT). */
  async thaw(): Promise<void> {
    for (const pid of (await this.pids()).reverse()) Deno.kill(pid, "SIGCONT");
  }

  /** Runs SQL through psql as the cluster's superuser; returns its output (unaligned). */
  async psql(sql: string, database = "postgres"): Promise<string> {
    return await this.#tool("psql", [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      ...this.#connection(),
      "-d",
      database,
      "-c",
      sql,
    ], { PGPASSWORD: this.password });
  }

  /** How psql and pg_dump reach this cluster as its superuser (the password goes by environment). */
  #connection(): string[] {
    return ["-h", "127.0.0.1", "-p", String(this.port), "-U", this.user];
  }

  /** Runs `pg_dump` on `database` with `args`, as the cluster's superuser; returns the dump. */
  async dump(database: string, args: string[] = []): Promise<string> {
    return await this.#tool("pg_dump", [
      ...this.#connection(),
      ...args,
      database,
    ], { PGPASSWORD: this.password });
  }

  /** Creates a fresh database (one per test keeps tests independent) and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    await this.psql(`CREATE DATABASE "${name}"`);
    return this.url(name);
  }

  /** Stops the server and removes its folder. */
  async close(): Promise<void> {
    try {
      await this.pause();
    } catch { /* already stopped */ }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #tool(name: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    const path = join(POSTGRES_BIN!, name);
    const out = IS_ROOT
      ? await run("runuser", ["-u", RUN_AS, "--", path, ...args], { env, cwd: this.dir })
      : await run(path, args, { env, cwd: this.dir });
    if (out.code !== 0) {
      let log = "";
      try {
        log = await Deno.readTextFile(join(this.dir, "server.log"));
      } catch { /* no log yet */ }
      throw new Error(`${name} ${args[0]} failed (${out.code}):\n${out.stderr}${log}`);
    }
    return out.stdout;
  }
}
