/**
 * Opens the store the configuration names: one place that maps a backend to
 * its module. The lite backend keeps only the key-check record, in a KV file.
 *
 * A database that cannot be reached at start (postgres) is waited for, with
 * backoff, instead of stopping Nexus: in a deployment the database and Nexus
 * start in any order, and a supervisor restarting Nexus in a loop helps no
 * one. Settings the database refuses (a wrong password, a missing database, a
 * newer schema) still stop Nexus at once: waiting cannot fix them.
 *
 * @module
 */

import { requireAccess } from "../../lib/config/permissions.ts";
import { type BackendKind, BACKENDS, STORE_FILES } from "../../lib/config/programs.ts";
import type { NexusConfig } from "../config.ts";
import type { Store } from "./store.ts";

/**
 * The database file a backend keeps in the data folder (kv and lite: a Deno
 * KV file; sqlite: its own), or none for the backends without a data folder.
 */
export function storeFileOf(backend: BackendKind): string | undefined {
  if (!BACKENDS[backend].dataDir) return undefined;
  return backend === "sqlite" ? STORE_FILES.sqlite : STORE_FILES.kv;
}

/** The store settings of the configuration. */
export type StoreConfig = Pick<NexusConfig, "backend" | "dataDir" | "busyTimeoutMs" | "postgres">;

/**
 * Checks, before anything is opened, that this process was granted what the
 * store needs: the database's address, password and CA files (postgres), or
 * the data folder; else stops with the flag to add (`deno run` by hand).
 */
export function requireStoreAccess(config: StoreConfig): void {
  if (config.postgres) {
    const { conninfo, passwordFile } = config.postgres;
    requireAccess(
      "SPIKE_NEXUS_DB_URL",
      conninfo.socketPath
        ? { kind: "unix-socket", path: conninfo.socketPath }
        : { kind: "net", host: `${conninfo.host}:${conninfo.port}` },
    );
    if (passwordFile) {
      requireAccess("SPIKE_NEXUS_DB_PASSWORD_FILE", { kind: "read", path: passwordFile });
    }
    if (conninfo.sslrootcert) {
      requireAccess("sslrootcert", { kind: "read", path: conninfo.sslrootcert });
    }
  } else if (BACKENDS[config.backend].dataDir) {
    requireAccess(
      "SPIKE_NEXUS_DATA_DIR",
      { kind: "read", path: config.dataDir },
      { kind: "write", path: config.dataDir },
    );
  }
}

/** What a store tells about its database while Nexus runs (postgres only). */
export interface StoreEvents {
  /** A connection cut while idle; the backend replaces it by itself. */
  onConnectionLost?: (error: Error) => void;
  /** The database stopped answering (`up` false, with why) or answers again; once per change. */
  onAvailability?: (up: boolean, reason?: string) => void;
  /**
   * At start, the database could not be reached: told once, with why and the
   * longest wait between attempts; the store keeps trying until it opens.
   */
  onWaiting?: (reason: string, maxDelayMs: number) => void;
}

/** First and longest wait between attempts to reach the database at start. */
export const OPEN_RETRY = { firstDelayMs: 250, maxDelayMs: 5_000 } as const;

/**
 * Opens the configured backend's store. For postgres, waits (with backoff)
 * until the database can be reached, telling `events.onWaiting` once. Only the
 * configured backend's module is loaded (npm pg is not small).
 */
export async function openStore(config: StoreConfig, events: StoreEvents = {}): Promise<Store> {
  switch (config.backend) {
    case "postgres": {
      const settings = config.postgres;
      if (!settings) throw new Error("the postgres backend needs its settings");
      const { openPostgresFromSettings, StoreUnavailableError } = await import("./postgres.ts");
      // Attempts that fail at start are told once by onWaiting, not each as an outage.
      let opened = false;
      const store = await untilReachable(
        () =>
          openPostgresFromSettings(settings, {
            onIdleError: events.onConnectionLost,
            onAvailability: (up, reason) => opened && events.onAvailability?.(up, reason),
          }),
        events,
        StoreUnavailableError,
      );
      opened = true;
      return store;
    }
    case "memory":
      return await (await import("./kv.ts")).openMemoryStore();
    case "sqlite":
      return await (await import("./sqlite.ts")).openSqliteStore(
        config.dataDir,
        config.busyTimeoutMs,
      );
    case "kv":
    case "lite":
      return await (await import("./kv.ts")).openKvStore(config.dataDir);
  }
}

/** Runs `open` until it does not fail with `unavailable` (the database not reachable). */
async function untilReachable<T>(
  open: () => Promise<T>,
  events: StoreEvents,
  unavailable: new (...args: never[]) => Error & { reason: string },
): Promise<T> {
  let delay: number = OPEN_RETRY.firstDelayMs;
  let waited = false;
  while (true) {
    try {
      const store = await open();
      if (waited) events.onAvailability?.(true);
      return store;
    } catch (e) {
      if (!(e instanceof unavailable)) throw e;
      if (!waited) events.onWaiting?.(e.reason, OPEN_RETRY.maxDelayMs);
      waited = true;
    }
    // SIGTERM meanwhile ends the process (Nexus sets its own handlers only once it listens).
    await new Promise((resolve) => setTimeout(resolve, delay * (0.75 + Math.random() * 0.5)));
    delay = Math.min(delay * 2, OPEN_RETRY.maxDelayMs);
  }
}
