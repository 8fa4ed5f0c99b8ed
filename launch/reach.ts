/**
 * What a program's configuration names, as a {@link Reach}: computed from the
 * same variables and arguments the program reads, with the same parsers
 * (`lib/config`) and the defaults of the program registry. A setting that
 * does not parse grants nothing: the program then stops on it with its own
 * message, exactly as when run by hand.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "../lib/std/path.ts";
import { parseListenAddress } from "../lib/config/listen.ts";
import { DEFAULT_NEXUS_API_URL, parseNexusUrls } from "../lib/config/nexus_url.ts";
import { MIGRATE_COMMAND, parseMigrateArgs } from "../lib/config/migrate.ts";
import { KEEPER_PEERS_ENV, parseKeeperPeers } from "../lib/config/peers.ts";
import { METRICS_PORT_ENV, parseMetricsAddress } from "../lib/config/metrics.ts";
import { AUDIT_FILE_ENV, parseAuditFile } from "../lib/config/audit_file.ts";
import { DB_URL_ENV, parsePostgresUrl } from "../lib/config/postgres_url.ts";
import {
  BACKENDS,
  DEFAULT_DATA_DIR_IN_HOME,
  DEFAULT_RECOVERY_DIR_IN_HOME,
  DEV_IDENTITIES,
  type Program,
  PROGRAMS,
} from "../lib/config/programs.ts";
import { DEFAULT_ENDPOINT_SOCKET, parseEndpointAddress } from "../lib/spiffe/endpoint.ts";
import type { Reach } from "./flags.ts";

/** A configuration: the environment and arguments a program is started with. */
export interface Configuration {
  env: Readonly<Record<string, string | undefined>>;
  args: readonly string[];
  /** The folder the program runs in; relative paths resolve against it. */
  cwd: string;
  /** Reads a file the configuration names (the dev agent's registration file). */
  readFile?: (path: string) => string;
}

const SVID_FILE_VARS = ["SPIKE_SVID_CERT_FILE", "SPIKE_SVID_KEY_FILE", "SPIKE_SVID_BUNDLE_FILE"];

/** Every variable the grants depend on (the launcher reads only these). */
export const CONFIG_ENV = [
  "HOME",
  "INIT_CWD",
  "SPIFFE_ENDPOINT_SOCKET",
  ...SVID_FILE_VARS,
  "SPIKE_NEXUS_TLS_PORT",
  "SPIKE_KEEPER_TLS_PORT",
  "SPIKE_NEXUS_API_URL",
  KEEPER_PEERS_ENV,
  "SPIKE_NEXUS_BACKEND_STORE",
  "SPIKE_NEXUS_DATA_DIR",
  DB_URL_ENV,
  "SPIKE_NEXUS_DB_PASSWORD_FILE",
  METRICS_PORT_ENV,
  AUDIT_FILE_ENV,
  "SPIKE_PILOT_DEFAULT_SOCKET",
  "SPIKE_PILOT_RECOVERY_DIR",
];

/** `undefined` when `fn` throws: an unparseable setting grants nothing. */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** A Deno net descriptor for `host:port` (IPv6 in brackets). */
export function netHost(host: string, port: number | string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The `host:port` a URL connects to (default 443 for https). */
function urlHost(text: string): string | undefined {
  return attempt(() => {
    const url = new URL(text);
    return netHost(url.hostname.replace(/^\[|\]$/g, ""), url.port || "443");
  });
}

class Builder {
  readonly reach: Required<Reach> = {
    sockets: [],
    hosts: [],
    folders: [],
    reads: [],
    writes: [],
    env: [],
  };
  constructor(readonly config: Configuration) {}

  get(name: string): string | undefined {
    const value = this.config.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  path(p: string): string {
    return resolve(this.config.cwd, p);
  }

  home(sub: string): string | undefined {
    const home = this.get("HOME");
    return home === undefined ? undefined : join(home, sub);
  }

  /** The SVID: files (their folders, which the file source watches) or the Workload API. */
  identity(fallbackSocket?: string): void {
    const files = SVID_FILE_VARS.map((v) => this.get(v));
    if (files.some((f) => f !== undefined)) {
      if (files.every((f) => f !== undefined)) {
        this.reach.reads.push(...files.map((f) => dirname(this.path(f!))));
      }
      return;
    }
    this.endpoint(this.get("SPIFFE_ENDPOINT_SOCKET") ?? fallbackSocket ?? DEFAULT_ENDPOINT_SOCKET);
  }

  endpoint(address: string): void {
    const endpoint = attempt(() => parseEndpointAddress(address));
    if (endpoint?.scheme === "unix") this.reach.sockets.push(endpoint.path);
    if (endpoint?.scheme === "tcp") this.reach.hosts.push(netHost(endpoint.host, endpoint.port));
  }

  listen(program: Program): void {
    const { env, default: fallback } = PROGRAMS[program].listen!;
    const address = attempt(() => parseListenAddress(env, this.get(env) ?? fallback));
    if (address) this.reach.hosts.push(netHost(address.hostname, address.port));
  }

  keepers(): void {
    const text = this.get(KEEPER_PEERS_ENV);
    const peers = text === undefined ? undefined : attempt(() => parseKeeperPeers(text));
    for (const peer of peers ?? []) {
      const host = urlHost(peer.url);
      if (host) this.reach.hosts.push(host);
    }
  }

  /** Every replica `SPIKE_NEXUS_API_URL` lists. */
  nexusUrls(): void {
    const text = this.get("SPIKE_NEXUS_API_URL") ?? DEFAULT_NEXUS_API_URL;
    for (const url of attempt(() => parseNexusUrls(text)) ?? []) {
      const host = urlHost(url);
      if (host) this.reach.hosts.push(host);
    }
  }

  postgres(): void {
    this.reach.env.push("PGPASSWORD");
    const passwordFile = this.get("SPIKE_NEXUS_DB_PASSWORD_FILE");
    if (passwordFile) this.reach.reads.push(this.path(passwordFile));
    const text = this.get(DB_URL_ENV);
    const target = text === undefined ? undefined : attempt(() => parsePostgresUrl(text));
    if (!target) return;
    if (target.socketPath) this.reach.sockets.push(target.socketPath);
    else this.reach.hosts.push(netHost(target.host, target.port));
    for (const file of [target.sslrootcert, target.sslcert, target.sslkey]) {
      if (file) this.reach.reads.push(this.path(file));
    }
  }
}

/** Every value of `--name X`, `--name=X` (and `-s X`, `-sX` for a short form) in `args`. */
export function optionValues(args: readonly string[], name: string, short?: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") break;
    if (arg === `--${name}` || (short && arg === `-${short}`)) {
      if (i + 1 < args.length) values.push(args[++i]);
    } else if (arg.startsWith(`--${name}=`)) {
      values.push(arg.slice(name.length + 3));
    } else if (short && arg.startsWith(`-${short}`) && !arg.startsWith("--")) {
      values.push(arg.slice(2));
    }
  }
  return values;
}

function nexus(b: Builder): void {
  if (b.config.args[0] === MIGRATE_COMMAND) return migrate(b);
  b.identity();
  b.listen("nexus");
  const metrics = attempt(() => parseMetricsAddress(b.get(METRICS_PORT_ENV)));
  if (metrics) b.reach.hosts.push(netHost(metrics.hostname, metrics.port));
  const audit = attempt(() => parseAuditFile(b.get(AUDIT_FILE_ENV)));
  // Read too: Nexus checks that it is a regular file of mode 0600.
  if (audit) b.reach.folders.push(audit);
  const backend = (b.get("SPIKE_NEXUS_BACKEND_STORE") ?? "kv").toLowerCase();
  if (!Object.hasOwn(BACKENDS, backend)) return;
  if (backend !== "memory") b.keepers();
  if (BACKENDS[backend as keyof typeof BACKENDS].dataDir) {
    const dir = b.get("SPIKE_NEXUS_DATA_DIR");
    const folder = dir ? b.path(dir) : b.home(DEFAULT_DATA_DIR_IN_HOME);
    if (folder) b.reach.folders.push(folder);
  }
  if (backend === "postgres") b.postgres();
}

/** `nexus migrate`: the data folder it copies from and the database; no identity or network. */
function migrate(b: Builder): void {
  const args = attempt(() => parseMigrateArgs(b.config.args.slice(1)));
  if (!args) return;
  const dir = args.dataDir ?? b.get("SPIKE_NEXUS_DATA_DIR");
  const folder = dir ? b.path(dir) : b.home(DEFAULT_DATA_DIR_IN_HOME);
  if (folder) b.reach.folders.push(folder);
  b.postgres();
}

function spike(b: Builder): void {
  const args = b.config.args;
  b.identity(b.get("SPIKE_PILOT_DEFAULT_SOCKET"));
  b.nexusUrls();
  if (args[0] === "operator" && args[1] === "recover") {
    const dir = b.get("SPIKE_PILOT_RECOVERY_DIR");
    const folder = dir ? b.path(dir) : b.home(DEFAULT_RECOVERY_DIR_IN_HOME);
    if (folder) b.reach.folders.push(folder);
  }
  // Files named on the command line: `KEY=@FILE`, `--file`/`-f` (read), `--out`/`-o` (written).
  // `spike run` passes the rest of its line to another program: only its own options count.
  const end = args.indexOf("--");
  const own = end === -1 ? args : args.slice(0, end);
  for (const arg of own) {
    const at = /^[^=@-][^=]*=@(.+)$/.exec(arg);
    if (at) b.reach.reads.push(b.path(at[1]));
  }
  for (const file of optionValues(own, "file", "f")) if (file) b.reach.reads.push(b.path(file));
  for (const file of optionValues(own, "out", "o")) if (file) b.reach.writes.push(b.path(file));
  // `spike operator backup --output FILE` (also -o, above).
  for (const file of optionValues(own, "output")) if (file) b.reach.writes.push(b.path(file));
}

function agent(b: Builder): void {
  const [command, ...rest] = b.config.args;
  if (command === "serve") {
    const data = b.path(optionValues(rest, "data-dir").at(-1) ?? ".spike/agent");
    const socketDir = b.path(optionValues(rest, "socket-dir").at(-1) ?? join(data, "sockets"));
    // It creates both folders (and removes stale sockets in the second).
    b.reach.folders.push(data, socketDir);
    let names: string[] = optionValues(rest, "identity").map((i) => i.split("=")[0]);
    const registration = optionValues(rest, "registration").at(-1);
    if (registration) {
      const file = b.path(registration);
      b.reach.reads.push(file);
      const doc = attempt(() => JSON.parse(b.config.readFile?.(file) ?? "null"));
      names = (doc?.identities ?? []).map((i: { socket?: unknown }) => String(i?.socket));
      for (const bundle of Object.values(doc?.federatedBundles ?? {})) {
        if (typeof bundle === "string") b.reach.reads.push(b.path(bundle));
      }
    } else if (names.length === 0) {
      names = DEV_IDENTITIES.map((i) => i.socket);
    }
    b.reach.sockets.push(...names.map((n) => join(socketDir, `${n}.sock`)));
  } else if (command === "fetch") {
    const socket = optionValues(rest, "socket-path").at(-1);
    if (socket) b.reach.sockets.push(b.path(socket));
    else b.identity();
    for (const dir of optionValues(rest, "write")) b.reach.folders.push(b.path(dir));
  }
}

/** What `program` may touch when started with `config`. */
export function reachFor(program: Program, config: Configuration): Reach {
  const b = new Builder(config);
  switch (program) {
    case "nexus":
      nexus(b);
      break;
    case "keeper":
      b.identity();
      b.listen("keeper");
      break;
    case "bootstrap":
      b.identity();
      b.nexusUrls();
      b.keepers();
      break;
    case "spike":
      spike(b);
      break;
    case "agent":
      agent(b);
      break;
  }
  // Deno's grants match paths as given; a relative path would be the launcher's folder.
  for (const list of [b.reach.sockets, b.reach.folders, b.reach.reads, b.reach.writes]) {
    if (list.some((p) => !isAbsolute(p))) throw new Error("internal: a grant is not absolute");
  }
  return b.reach;
}
