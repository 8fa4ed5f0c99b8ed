/**
 * The store: the one storage layer Nexus writes through. Ordered keys, whole
 * byte values, and atomic commits guarded by versionstamp checks
 * (compare-and-set). It is the subset of Deno KV that Nexus uses, so that
 * every backend (`kv.ts`, `sqlite.ts`, `postgres.ts`) can implement it, and
 * `store_test.ts` holds each to the same promises. Size limits of a backend
 * (Deno KV's 64 KiB values) are the backend's business: callers store whole
 * values. Nothing above this layer caches values without checking their
 * versionstamps.
 *
 * @module
 */

/** A key: a tuple of strings and numbers, ordered element by element (strings before numbers). */
export type StoreKey = readonly (string | number)[];

/** A stored value with its versionstamp. */
export interface StoreEntry {
  readonly key: StoreKey;
  readonly value: Uint8Array;
  /** Changes at every write of the key; compares as a string, larger is newer. */
  readonly versionstamp: string;
}

/** Options of {@link Store.list}. */
export interface ListOptions {
  /** At most this many entries. */
  limit?: number;
  /** Highest key first. */
  reverse?: boolean;
}

/** What a commit did. */
export interface CommitResult {
  /** False when a check failed: nothing was written. */
  ok: boolean;
  /**
   * When `ok` and the commit set a key: the versionstamp every key it set now has (a
   * later read of one of them gives this until it is written again).
   */
  versionstamp?: string;
}

/** An atomic batch: checks, then writes, all or nothing. */
export interface StoreTransaction {
  /** Fails the commit unless `key` is at `versionstamp` (null: absent). */
  check(key: StoreKey, versionstamp: string | null): StoreTransaction;
  set(key: StoreKey, value: Uint8Array): StoreTransaction;
  delete(key: StoreKey): StoreTransaction;
  /** Applies everything, or nothing when a check fails (`ok: false`). */
  commit(): Promise<CommitResult>;
}

/** Storage as Nexus uses it. */
export interface Store {
  get(key: StoreKey): Promise<StoreEntry | null>;
  /** Entries under `prefix` (not the prefix key itself), in key order. */
  list(prefix: StoreKey, options?: ListOptions): Promise<StoreEntry[]>;
  atomic(): StoreTransaction;
  /** Finishes what was acknowledged and releases the backend. */
  close(): Promise<void>;
}

/** Options of {@link compareAndSet}. */
export interface CompareAndSetOptions {
  /** Commits tried before giving up. Default 100. */
  attempts?: number;
  /** Names the record in the error when every attempt lost (never a value). */
  what?: string;
  /**
   * What the caller believes `key` holds (it wrote it last): the first attempt
   * takes it instead of reading. The commit's check is on its versionstamp, so a
   * wrong guess costs one lost commit (or a throw from `change`, which is then
   * not final) and a read, never a write on stale data.
   */
  guess?: StoreEntry;
  /** Told the commit's versionstamp once the commit wins. */
  committed?: (versionstamp: string | undefined) => void;
}

/**
 * Read-modify-write of one record until its commit wins: reads `key`, hands
 * the entry (or null) and a transaction already checked against what was
 * read to `change` (with the attempt's number, from 0), which adds the writes and returns
 * the result; commits; when another writer won in between, reads again. A throw from
 * `change` aborts with nothing written (unless it saw only a guess: see
 * {@link CompareAndSetOptions.guess}). This is how every write to a record is made,
 * so concurrent writers, in one process or several, never lose an update.
 */
export async function compareAndSet<T>(
  store: Store,
  key: StoreKey,
  change: (current: StoreEntry | null, tx: StoreTransaction, attempt: number) => T | Promise<T>,
  options: CompareAndSetOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 100;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const guessed = attempt === 0 && options.guess !== undefined;
    const current = guessed ? options.guess! : await store.get(key);
    const tx = store.atomic().check(key, current?.versionstamp ?? null);
    let result: T;
    try {
      result = await change(current, tx, attempt);
    } catch (e) {
      if (guessed) continue; // decided on a guess: only a read's answer is final
      throw e;
    }
    const done = await tx.commit();
    if (done.ok) {
      options.committed?.(done.versionstamp);
      return result;
    }
  }
  throw new Error(
    `could not write ${options.what ?? "a record"}: too many concurrent writers`,
  );
}

/**
 * `store` with some of its operations replaced, for layers that watch or bound a store
 * (metrics, deadlines, the file guard). A replaced `commit` gets the transaction as
 * recorded so far and commits it itself. Everything else is the store's own, so a
 * backend's additions keep working.
 */
export function wrapStore(
  store: Store,
  overrides: {
    get?: Store["get"];
    list?: Store["list"];
    commit?: (inner: StoreTransaction) => Promise<CommitResult>;
  },
): Store {
  const { commit, ...reads } = overrides;
  const wrapped: Partial<Store> = { ...reads };
  if (commit) {
    wrapped.atomic = () => {
      const inner = store.atomic();
      const tx: StoreTransaction = {
        check: (key, versionstamp) => (inner.check(key, versionstamp), tx),
        set: (key, value) => (inner.set(key, value), tx),
        delete: (key) => (inner.delete(key), tx),
        commit: () => commit(inner),
      };
      return tx;
    };
  }
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(wrapped, property)) return wrapped[property as keyof Store];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
