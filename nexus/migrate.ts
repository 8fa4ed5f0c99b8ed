/**
 * `nexus migrate --from kv[:DATA_DIR] | sqlite[:DATA_DIR]`: copies the store
 * of a single Nexus into the (empty) PostgreSQL database of
 * `SPIKE_NEXUS_DB_URL`, so that one or more Nexus replicas can take over
 * with the same Keepers and the same root key.
 *
 * Records are copied as stored: sealed values under their keys, byte for
 * byte. The root key is not needed and never asked for; the key-check record
 * travels with the rest, so a Nexus on PostgreSQL that gets the key back from
 * the Keepers accepts it exactly as the old one did. The copy is one
 * transaction: it is refused when the database holds any record, and before
 * it commits, what the database holds (count and digest) must equal what the
 * source held before the copy and still holds after it (the old Nexus must be
 * stopped; a source that changed meanwhile fails the copy). On any failure
 * the database is left as empty as it was.
 *
 * The source is read whole into memory (one pass to copy, one to verify):
 * fine for the store of one node, which this is.
 *
 * @module
 */

import { join } from "node:path";
import { ConfigError, envInt, envString } from "../lib/config/env.ts";
import { type MigrateArgs, parseMigrateArgs } from "../lib/config/migrate.ts";
import { STORE_FILES } from "../lib/config/programs.ts";
import { defaultDataDir, postgresFromEnv } from "./config.ts";
import { KEY_CHECK_KEY } from "./state/rootkey.ts";
import { RecordDigest } from "./store/digest.ts";
import { encodeKey } from "./store/keys.ts";
import { openKvStore } from "./store/kv.ts";
import { requireStoreAccess } from "./store/open.ts";
import { openPostgresFromSettings } from "./store/postgres.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { Store, StoreEntry } from "./store/store.ts";

/** What one migration copied. */
export interface MigrateReport {
  records: number;
  /** Records by the first element of their key (`secret-meta`, `policy`, ...). */
  byKind: Record<string, number>;
  digest: string;
}

function digestOf(entries: readonly StoreEntry[]): RecordDigest {
  const digest = new RecordDigest();
  for (const e of entries) digest.add(encodeKey(e.key), e.value);
  return digest;
}

async function openSource(args: MigrateArgs, dataDir: string): Promise<Store> {
  const file = join(dataDir, STORE_FILES[args.from]);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch {
    throw new ConfigError(`there is no ${args.from} store in ${dataDir} (no ${file})`);
  }
  if (!info.isFile) throw new ConfigError(`${file} is not a ${args.from} store file`);
  return args.from === "kv"
    ? await openKvStore(dataDir)
    : await openSqliteStore(dataDir, envInt("SPIKE_NEXUS_DB_BUSY_TIMEOUT_MS", 5000, { min: 1 }));
}

/** Runs the copy; resolves with what was copied, or throws with nothing written. */
export async function migrate(args: MigrateArgs): Promise<MigrateReport> {
  const postgres = postgresFromEnv();
  const dataDir = args.dataDir ?? (envString("SPIKE_NEXUS_DATA_DIR", "") || defaultDataDir());
  requireStoreAccess({ backend: args.from, dataDir, busyTimeoutMs: 0 });
  requireStoreAccess({ backend: "postgres", dataDir: "", busyTimeoutMs: 0, postgres });
  const source = await openSource(args, dataDir);
  try {
    const entries = await source.list([]);
    const key = JSON.stringify(KEY_CHECK_KEY);
    if (!entries.some((e) => JSON.stringify(e.key) === key)) {
      throw new ConfigError(
        `the ${args.from} store in ${dataDir} has no key-check record: it never had a root key, ` +
          "so there is nothing to migrate",
      );
    }
    const before = digestOf(entries);
    const target = await openPostgresFromSettings(postgres);
    try {
      await target.importAll(entries, async (copied) => {
        if (copied.count !== before.count || copied.hex !== before.hex) {
          throw new Error(
            `the copy does not match the source (${copied.count} records in the database, ` +
              `${before.count} in the source): nothing was written`,
          );
        }
        const after = digestOf(await source.list([]));
        if (after.count !== before.count || after.hex !== before.hex) {
          throw new Error(
            `the ${args.from} store changed during the copy (is its Nexus still running? ` +
              "stop it first): nothing was written",
          );
        }
      });
    } finally {
      await target.close();
    }
    const byKind: Record<string, number> = {};
    for (const e of entries) byKind[String(e.key[0])] = (byKind[String(e.key[0])] ?? 0) + 1;
    return { records: before.count, byKind, digest: before.hex };
  } finally {
    await source.close();
  }
}

/** The command: parses its words, copies, and says what it did on stdout. */
export async function runMigrate(words: readonly string[]): Promise<void> {
  const args = parseMigrateArgs(words);
  const report = await migrate(args);
  const { conninfo } = postgresFromEnv();
  const kinds = Object.entries(report.byKind).map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(
    `copied ${report.records} records (${kinds}) from the ${args.from} store into PostgreSQL ` +
      `${conninfo.user}@${conninfo.host}:${conninfo.port}/${conninfo.database}`,
  );
  console.log(
    `verified: the database holds exactly the source's records, byte for byte ` +
      `(digest ${report.digest.slice(0, 16)}…)`,
  );
  console.log(
    "next: start Nexus with SPIKE_NEXUS_BACKEND_STORE=postgres, this SPIKE_NEXUS_DB_URL and the " +
      "same SPIKE_NEXUS_KEEPER_PEERS; it gets the same root key back from the Keepers",
  );
}
