/**
 * The registry of SPIKE's programs: each one's entry module, SPIFFE role,
 * listen variable and default port, and the places SPIKE uses by default
 * (SPIRE's sockets, the data folder, the store files, the dev stack's
 * layout). The tasks and their launcher, the release builds, the dev stack,
 * the tests and the bench derive from these; nothing else restates them.
 *
 * It imports nothing heavy: the launcher loads it before every start.
 *
 * @module
 */

import type { Role } from "../identity/roles.ts";

/** The programs. `spike` is Pilot; `agent` is the dev agent. */
export type Program = "nexus" | "keeper" | "bootstrap" | "spike" | "agent";

/** What the registry knows about a program. */
export interface ProgramInfo {
  /** Entry module, relative to the repository root. */
  readonly entry: string;
  /** The role its SVID must have (Pilot: the role of most commands). */
  readonly role?: Role;
  /** The dev agent socket it uses in the dev stack (`.spike/agent/sockets/<name>.sock`). */
  readonly devSocket?: string;
  /** Its listen-address variable and upstream's default. */
  readonly listen?: { readonly env: string; readonly default: string };
}

/** Upstream's default ports. */
export const DEFAULT_PORTS = {
  nexus: 8553,
  /** Three Keepers on one machine; a single Keeper listens on the first. */
  keepers: [8443, 8543, 8643],
} as const;

/** Every program, in the order a stack starts them (releases build all of them). */
export const PROGRAMS: Readonly<Record<Program, ProgramInfo>> = {
  agent: { entry: "dev/agent/main.ts" },
  keeper: {
    entry: "keeper/main.ts",
    role: "keeper",
    devSocket: "keeper",
    listen: { env: "SPIKE_KEEPER_TLS_PORT", default: `:${DEFAULT_PORTS.keepers[0]}` },
  },
  nexus: {
    entry: "nexus/main.ts",
    role: "nexus",
    devSocket: "nexus",
    listen: { env: "SPIKE_NEXUS_TLS_PORT", default: `:${DEFAULT_PORTS.nexus}` },
  },
  bootstrap: { entry: "bootstrap/main.ts", role: "bootstrap", devSocket: "bootstrap" },
  spike: { entry: "pilot/main.ts", role: "pilot-superuser", devSocket: "pilot" },
};

/** The program names. */
export const PROGRAM_NAMES = Object.keys(PROGRAMS) as Program[];

/** Is `name` a program? */
export function isProgram(name: string): name is Program {
  return Object.hasOwn(PROGRAMS, name);
}

/** The Workload API sockets SPIRE deployments commonly use; the first is the default. */
export const SPIRE_SOCKETS = [
  "/tmp/spire-agent/public/api.sock",
  "/run/spire/sockets/agent.sock",
  "/spiffe-workload-api/spire-agent.sock",
] as const;

/** Nexus's data folder under `$HOME` when `SPIKE_NEXUS_DATA_DIR` is unset. */
export const DEFAULT_DATA_DIR_IN_HOME = ".spike/data";

/** Pilot's recovery folder under `$HOME` when `SPIKE_PILOT_RECOVERY_DIR` is unset. */
export const DEFAULT_RECOVERY_DIR_IN_HOME = ".spike/recover";

/** The database file of each file-backed store, inside the data folder. */
export const STORE_FILES = { kv: "spike.kv", sqlite: "spike.db" } as const;

/** What a backend implies for the rest of Nexus (and for its grants), decided here once. */
export interface BackendProfile {
  /** Keeps data in files under `SPIKE_NEXUS_DATA_DIR` (so Nexus needs read/write there). */
  readonly dataDir: boolean;
  /**
   * The root key comes from Bootstrap and the Keepers (and can be recovered
   * and restored); without Keepers Nexus makes a random key of its own at
   * start, has no shares, and keeps nothing.
   */
  readonly keepers: boolean;
  /** Every route, or only those the route table marks `lite` (nothing stored but the key check). */
  readonly routes: "all" | "lite";
}

/** Nexus's backends (`SPIKE_NEXUS_BACKEND_STORE`), each with its profile. */
export const BACKENDS = {
  kv: { dataDir: true, keepers: true, routes: "all" },
  sqlite: { dataDir: true, keepers: true, routes: "all" },
  lite: { dataDir: true, keepers: true, routes: "lite" },
  memory: { dataDir: false, keepers: false, routes: "all" },
  postgres: { dataDir: false, keepers: true, routes: "all" },
} as const satisfies Record<string, BackendProfile>;

/** A backend's name. */
export type BackendKind = keyof typeof BACKENDS;

/** The default backend. */
export const DEFAULT_BACKEND: BackendKind = "kv";

/** The identities the dev agent serves by default: socket name and SPIFFE ID path. */
export const DEV_IDENTITIES = [
  { socket: "nexus", path: "/spike/nexus" },
  { socket: "keeper", path: "/spike/keeper" },
  { socket: "bootstrap", path: "/spike/bootstrap" },
  { socket: "pilot", path: "/spike/pilot/role/superuser" },
  { socket: "pilot-recover", path: "/spike/pilot/role/recover" },
  { socket: "pilot-restore", path: "/spike/pilot/role/restore" },
  { socket: "lite-workload", path: "/spike/workload/role/lite" },
  { socket: "demo-workload", path: "/workload/demo" },
] as const;

/** The dev stack's folders, relative to the checkout (`deno task dev`). */
export const DEV_LAYOUT = {
  home: ".spike",
  agent: ".spike/agent",
  sockets: ".spike/agent/sockets",
  nexusData: ".spike/nexus",
  recover: ".spike/dev/recover",
  logs: ".spike/logs",
} as const;

/** The dev stack listens on loopback only. */
export const DEV_HOST = "127.0.0.1";
