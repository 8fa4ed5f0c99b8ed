/**
 * The arguments of `nexus migrate`: which single-node store to copy into the
 * PostgreSQL database of `SPIKE_NEXUS_DB_URL`. Read by Nexus (to copy) and by
 * the launcher (to grant that data folder and nothing else), with this one
 * parser, so the two always agree.
 *
 *   nexus migrate --from kv[:DATA_DIR]
 *   nexus migrate --from sqlite[:DATA_DIR]
 *
 * `DATA_DIR` is the folder the old Nexus had as `SPIKE_NEXUS_DATA_DIR` (it
 * holds `spike.kv` or `spike.db`); without it, that variable, then
 * `~/.spike/data`, as for Nexus itself.
 *
 * @module
 */

import { ConfigError } from "./env.ts";

/** The backends a migration copies from. */
export type MigrateFrom = "kv" | "sqlite";

/** What `nexus migrate` was asked to copy. */
export interface MigrateArgs {
  from: MigrateFrom;
  /** The data folder as given (relative to the caller's folder), if given. */
  dataDir?: string;
}

/** The first word that makes Nexus migrate instead of serve. */
export const MIGRATE_COMMAND = "migrate";

/** One line of usage. */
export const MIGRATE_USAGE =
  "usage: nexus migrate --from kv[:DATA_DIR] | --from sqlite[:DATA_DIR] " +
  "(into the empty PostgreSQL database of SPIKE_NEXUS_DB_URL)";

/** Parses the words after `migrate`; a ConfigError says what is wrong, with the usage. */
export function parseMigrateArgs(args: readonly string[]): MigrateArgs {
  const bad = (why: string) => new ConfigError(`nexus migrate: ${why}; ${MIGRATE_USAGE}`);
  let spec: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let value: string | undefined;
    if (arg === "--from") {
      if (i + 1 >= args.length) throw bad("--from needs a value");
      value = args[++i];
    } else if (arg.startsWith("--from=")) value = arg.slice("--from=".length);
    else throw bad(`unknown argument ${JSON.stringify(arg)}`);
    if (spec !== undefined) throw bad("--from is given twice");
    spec = value;
  }
  if (spec === undefined) throw bad("say which store to copy with --from");
  const colon = spec.indexOf(":");
  const from = colon === -1 ? spec : spec.slice(0, colon);
  const dataDir = colon === -1 ? undefined : spec.slice(colon + 1);
  if (from !== "kv" && from !== "sqlite") {
    throw bad(`--from ${JSON.stringify(from)} is not a store to copy from: use kv or sqlite`);
  }
  if (dataDir === "") throw bad("the data folder after the colon is empty");
  return dataDir === undefined ? { from } : { from, dataDir };
}
