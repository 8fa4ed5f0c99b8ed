/**
 * What a backend adds to the {@link Store} for the operator's day: a
 * consistent snapshot of every record (for `spike operator backup`), and
 * scrubbing, which makes the bytes of deleted records leave the database's
 * files (for `spike secret destroy`). Both are optional methods of a store:
 * the wrappers of `store.ts` (metrics, deadlines, the file guard) pass them
 * through untouched, so they are reached the same way whatever wraps the
 * store.
 *
 * - `kv` and `memory`: the snapshot holds this store's commits back while it
 *   lists (writes wait, none is refused), since Deno KV lists in several
 *   reads; scrubbing runs SQLite's `VACUUM` and a truncating WAL checkpoint on
 *   the KV file (Deno KV keeps its data in SQLite and gives no pragma to its
 *   own connection), with commits held back the same way.
 * - `sqlite`: the snapshot is one `SELECT` (one read transaction: consistent
 *   across processes too); `secure_delete` is on, so deleted cells are zeroed
 *   in the commit that deletes them, and scrubbing checkpoints the WAL and
 *   truncates it, so old page images leave the `-wal` file.
 * - `postgres`: the snapshot is one `SELECT` (one MVCC snapshot, writers are
 *   not blocked); no scrub: PostgreSQL keeps dead tuples until `VACUUM`, and
 *   the WAL, archives and standbys hold what was written (see the README).
 *
 * @module
 */

import type { Store, StoreEntry } from "./store.ts";

/** The optional operator methods of a store. */
export interface OperatorStore {
  /** Every record (key, sealed value) as of one moment, in key order. */
  snapshot?(): Promise<StoreEntry[]>;
  /**
   * Makes the bytes of deleted records leave the database's files; resolves
   * with what is still true of them (for the log), or null when nothing is
   * left to say.
   */
  scrub?(): Promise<string | null>;
}

/** Every record as of one moment; throws when the backend cannot take a consistent snapshot. */
export async function snapshotOf(store: Store): Promise<StoreEntry[]> {
  const s = store as Store & OperatorStore;
  if (typeof s.snapshot !== "function") {
    throw new Error("this store backend cannot take a consistent snapshot");
  }
  return await s.snapshot();
}

/** Scrubs the store's files if the backend can (see {@link OperatorStore.scrub}). */
export async function scrubOf(store: Store): Promise<string | null> {
  const s = store as Store & OperatorStore;
  if (typeof s.scrub !== "function") {
    return "this backend does not scrub its files: deleted bytes stay until the database reuses " +
      "their space";
  }
  return await s.scrub();
}
