/**
 * The Deno permission flags of a program, as a function of what it is
 * configured to touch ({@link Reach}): its Workload API socket, the addresses
 * it listens on or connects to, its folders and files. `reach.ts` computes
 * the Reach from a configuration; the launcher, the release bundles, the dev
 * stack, the tests and the bench all start programs with these flags.
 *
 * @module
 */

import type { Program } from "../lib/config/programs.ts";

/** What a program may touch. */
export interface Reach {
  /** Absolute unix socket paths (Workload API, a PostgreSQL socket). */
  sockets: string[];
  /** `host:port` it listens on or connects to. */
  hosts?: string[];
  /** Folders (or files) it reads and writes. */
  folders?: string[];
  /** Files or folders it only reads. */
  reads?: string[];
  /** Files it only writes. */
  writes?: string[];
  /** Environment variables beyond every program's own (e.g. `PGPASSWORD`). */
  env?: string[];
}

/** Variables grpc-js reads, on top of our own. */
export const GRPC_ENV = [
  "GRPC_*",
  "grpc_proxy",
  "https_proxy",
  "http_proxy",
  "no_grpc_proxy",
  "no_proxy",
];

const unique = (items: string[]) => [...new Set(items)];

/** The `deno run` flags for `program` with `reach`. */
export function permissionFlags(program: Program, reach: Reach): string[] {
  const net = unique([...reach.sockets.map((s) => `unix:${s}`), ...(reach.hosts ?? [])]);
  const both = [...reach.sockets, ...(reach.folders ?? [])];
  const read = unique([...both, ...(reach.reads ?? [])]);
  const write = unique([...both, ...(reach.writes ?? [])]);
  const env = program === "agent"
    ? [...GRPC_ENV, "SPIFFE_ENDPOINT_SOCKET"]
    : ["SPIKE_*", "SPIFFE_ENDPOINT_SOCKET", "HOME", ...GRPC_ENV];
  // Pilot resolves files named on its command line against the caller's folder.
  if (program === "spike") env.push("INIT_CWD");
  // Never ask at a terminal: what the configuration does not name is refused.
  const flags = ["--no-prompt", `--allow-env=${unique([...env, ...(reach.env ?? [])]).join(",")}`];
  // An empty list would mean "everything" to Deno: leave such a flag out instead.
  if (net.length > 0) flags.push(`--allow-net=${net.join(",")}`);
  if (read.length > 0) flags.push(`--allow-read=${read.join(",")}`);
  if (write.length > 0) flags.push(`--allow-write=${write.join(",")}`);
  if (program === "nexus") {
    flags.unshift("--unstable-kv");
    // npm pg (postgres backend) reads these two even when told everything: they read as unset.
    // Ignored rather than granted: a stray PGREPLICATION must not switch on replication mode.
    flags.push("--ignore-env=PGBINARY,PGREPLICATION");
  }
  // `spike run` starts the command it is given; every other spike command revokes this at start.
  if (program === "spike") {
    flags.push("--allow-run");
    // npm:yaml looks at these two debugging variables; they read as unset, with no grant.
    flags.push("--ignore-env=LOG_TOKENS,LOG_STREAM");
  }
  return flags;
}
