/**
 * Opens the store the configuration names: one place that maps a backend to
 * its module. The lite backend keeps only the key-check record, in a KV file.
 *
 * @module
 */

import type { NexusConfig } from "../config.ts";
import { openKvStore, openMemoryStore } from "./kv.ts";
import { openPostgresFromSettings } from "./postgres.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** The store settings of the configuration. */
export type StoreConfig = Pick<NexusConfig, "backend" | "dataDir" | "busyTimeoutMs" | "postgres">;

/**
 * Opens the configured backend's store. `onConnectionLost` hears of database
 * connections cut while idle (postgres), which the backend replaces by itself.
 */
export async function openStore(
  config: StoreConfig,
  onConnectionLost?: (error: Error) => void,
): Promise<Store> {
  switch (config.backend) {
    case "postgres":
      if (!config.postgres) throw new Error("the postgres backend needs its settings");
      return await openPostgresFromSettings(config.postgres, onConnectionLost);
    case "memory":
      return await openMemoryStore();
    case "sqlite":
      return await openSqliteStore(config.dataDir, config.busyTimeoutMs);
    case "kv":
    case "lite":
      return await openKvStore(config.dataDir);
  }
}
