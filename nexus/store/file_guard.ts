/**
 * A store in a file keeps working after its file is deleted or replaced (the process
 * still holds the old one open), and every write then goes to a file nobody will open
 * again: acknowledged, and lost at the next start. This guard looks at the file after
 * each commit and refuses to acknowledge a write that went to a file that is no longer
 * the one at its path. Reads go on from the file still open.
 *
 * Commits that finish together (a grouped Deno KV commit answers all its
 * callers at once) share one look at the file: a look is reused only until
 * the microtasks of the turn it was taken in have run. Every commit it
 * serves had finished before that turn began, so the look still comes after
 * each of them; no look outlives its turn.
 *
 * @module
 */

import { type Store, wrapStore } from "./store.ts";

/** The identity of a file: device and inode. */
function identity(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return `${info.dev}:${info.ino}`;
  } catch {
    return undefined;
  }
}

/** Thrown for a write that went to a database file no longer at its path. */
export class StoreFileGoneError extends Error {
  override name = "StoreFileGoneError";
  constructor(readonly path: string) {
    super(
      `the database file ${path} is no longer there (its folder was deleted or replaced); ` +
        "this write was not kept",
    );
  }
}

/**
 * Wraps `store`, whose database is the file at `path` (it must exist now). Everything
 * but `commit` is passed through. `identityOf` tells a file's identity (tests count it).
 */
export function guardStoreFile(
  store: Store,
  path: string,
  identityOf: (path: string) => string | undefined = identity,
): Store {
  const opened = identityOf(path);
  if (!opened) throw new Error(`the database file ${path} is missing right after opening it`);
  /** This turn's look at the file (see the module notes), if one was taken. */
  let look: string | undefined | null = null;
  const check = () => {
    if (look === null) {
      look = identityOf(path);
      queueMicrotask(() => look = null);
    }
    if (look !== opened) throw new StoreFileGoneError(path);
  };
  return wrapStore(store, {
    commit: async (inner) => {
      check(); // before too: a write known to be lost is not even tried
      const result = await inner.commit();
      check();
      return result;
    },
  });
}
