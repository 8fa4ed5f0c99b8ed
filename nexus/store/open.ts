/**
 * Opens the store the configuration names: one place that maps a backend to
 * its module. The lite backend keeps only the key-check record, in a KV file.
 *
 * @module
 */

import type { NexusConfig } from "../config.ts";
import { openKvStore, openMemoryStore } from "./kv.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** The store settings of the configuration. */
export type StoreConfig = Pick<NexusConfig, "backend" | "dataDir" | "busyTimeoutMs">;

/** Opens the configured backend's store. */
export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.backend) {
    case "memory":
      return await openMemoryStore();
    case "sqlite":
      return await openSqliteStore(config.dataDir, config.busyTimeoutMs);
    case "kv":
    case "lite":
      return await openKvStore(config.dataDir);
  }
}
