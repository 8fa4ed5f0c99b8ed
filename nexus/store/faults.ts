/**
 * What an operator must hear when the store's file system fails under it. The
 * backends report these faults in their own words (Deno KV and SQLite say
 * "database or disk is full" and "attempt to write a readonly database", the
 * file system ENOSPC, EROFS or ENOENT); Nexus logs one line that names the fault
 * and what to do, answers the request with a 500 and keeps running: reads go on,
 * and writes succeed again as soon as the fault is gone, with no restart.
 *
 * @module
 */

/** A file-system fault under the store. */
export interface StoreFault {
  /** Short and greppable: "disk full", "read-only", "folder missing". */
  fault: "disk full" | "read-only" | "folder missing";
  /** What to do about it. */
  hint: string;
}

const FAULTS: [RegExp, StoreFault][] = [
  [/disk is full|no space left|ENOSPC|SQLITE_FULL|os error 28/i, {
    fault: "disk full",
    hint: "free space under the data folder; writes resume by themselves",
  }],
  [/readonly database|read-only file system|EROFS|SQLITE_READONLY|os error 30/i, {
    fault: "read-only",
    hint: "make the data folder writable again; writes resume by themselves",
  }],
  [
    /unable to open database file|is no longer there|no such file or directory|ENOENT|os error 2\b/i,
    {
      fault: "folder missing",
      hint: "the data folder or its database file is gone; restore it, or restart Nexus",
    },
  ],
];

/** The fault behind a store error, if it is one of the file system's. */
export function storeFault(error: unknown): StoreFault | undefined {
  const text = error instanceof Error
    ? `${error.name} ${error.message} ${(error as { code?: unknown }).code ?? ""}`
    : String(error);
  return FAULTS.find(([pattern]) => pattern.test(text))?.[1];
}
