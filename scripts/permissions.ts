/**
 * The Deno permission flags of each program, as a function of what it is
 * configured to touch: its Workload API socket, the addresses it listens on
 * or connects to, and its folders. The `deno.json` tasks are these flags for
 * the default configuration (a test checks they agree), and the end-to-end
 * tests start every program with these flags for their temp configuration.
 *
 * @module
 */

/** The programs. */
export type Program = "nexus" | "keeper" | "bootstrap" | "spike" | "agent";

/** What a program may touch. */
export interface Reach {
  /** Absolute unix socket paths (Workload API). */
  sockets: string[];
  /** `host:port` it listens on or connects to. */
  hosts?: string[];
  /** Folders it reads and writes. */
  folders?: string[];
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

/** The entry module of each program, relative to the repository root. */
export const ENTRY: Record<Program, string> = {
  nexus: "nexus/main.ts",
  keeper: "keeper/main.ts",
  bootstrap: "bootstrap/main.ts",
  spike: "pilot/main.ts",
  agent: "dev/agent/main.ts",
};

/** The `deno run` flags for `program` with `reach`. */
export function permissionFlags(program: Program, reach: Reach): string[] {
  const net = [...reach.sockets.map((s) => `unix:${s}`), ...(reach.hosts ?? [])];
  const files = [...reach.sockets, ...(reach.folders ?? [])];
  const env = program === "agent"
    ? [...GRPC_ENV, "SPIFFE_ENDPOINT_SOCKET"]
    : ["SPIKE_*", "SPIFFE_ENDPOINT_SOCKET", "HOME", ...GRPC_ENV];
  const flags = [`--allow-env=${env.join(",")}`];
  // An empty list would mean "everything" to Deno: leave such a flag out instead.
  if (net.length > 0) flags.push(`--allow-net=${net.join(",")}`);
  if (files.length > 0) {
    flags.push(`--allow-read=${files.join(",")}`, `--allow-write=${files.join(",")}`);
  }
  if (program === "nexus") {
    flags.unshift("--unstable-kv");
    // npm pg (postgres backend) reads these two even when told everything: they read as unset.
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
