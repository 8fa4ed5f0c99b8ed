/**
 * The storage Nexus writes through: ordered keys, byte values, and atomic
 * commits guarded by versionstamp checks (compare-and-set). This is the
 * subset of Deno KV that Nexus uses, so that a shared SQL backend for several
 * Nexus replicas can implement it later; nothing above it caches values.
 *
 * Backends: `kv` is Deno KV in a file, `memory` is Deno KV in memory (nothing
 * persisted), `lite` keeps only the key-check record (in a KV file).
 *
 * @module
 */

import { join } from "node:path";

/** A key: a tuple of strings and numbers, ordered element by element. */
export type StoreKey = readonly (string | number)[];

/** A stored value with its versionstamp. */
export interface StoreEntry {
  readonly key: StoreKey;
  readonly value: Uint8Array;
  readonly versionstamp: string;
}

/** An atomic batch: checks, then writes, all or nothing. */
export interface StoreTransaction {
  /** Fails the commit unless `key` is at `versionstamp` (null: absent). */
  check(key: StoreKey, versionstamp: string | null): StoreTransaction;
  set(key: StoreKey, value: Uint8Array): StoreTransaction;
  delete(key: StoreKey): StoreTransaction;
  /** Applies everything, or nothing when a check fails (`ok: false`). */
  commit(): Promise<{ ok: boolean }>;
}

/** Storage as Nexus uses it. */
export interface Store {
  get(key: StoreKey): Promise<StoreEntry | null>;
  /** Entries under `prefix`, in key order. */
  list(prefix: StoreKey, options?: { limit?: number; reverse?: boolean }): Promise<StoreEntry[]>;
  atomic(): StoreTransaction;
  close(): void;
}

/** Deno KV reports lock contention between processes this way; such writes are retried. */
function isLocked(e: unknown): boolean {
  return e instanceof Error && /database is locked/i.test(e.message);
}

async function retryLocked<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await op();
    } catch (e) {
      if (!isLocked(e) || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 5 + attempt * 5));
    }
  }
}

class KvStore implements Store {
  constructor(readonly kv: Deno.Kv) {}

  async get(key: StoreKey): Promise<StoreEntry | null> {
    const entry = await this.kv.get<Uint8Array>(key as Deno.KvKey);
    if (entry.versionstamp === null) return null;
    return { key, value: entry.value, versionstamp: entry.versionstamp };
  }

  async list(
    prefix: StoreKey,
    options: { limit?: number; reverse?: boolean } = {},
  ): Promise<StoreEntry[]> {
    const out: StoreEntry[] = [];
    for await (
      const entry of this.kv.list<Uint8Array>({ prefix: prefix as Deno.KvKey }, {
        limit: options.limit,
        reverse: options.reverse,
      })
    ) {
      out.push({
        key: entry.key as StoreKey,
        value: entry.value,
        versionstamp: entry.versionstamp,
      });
    }
    return out;
  }

  atomic(): StoreTransaction {
    const op = this.kv.atomic();
    const tx: StoreTransaction = {
      check: (key, versionstamp) => {
        op.check({ key: key as Deno.KvKey, versionstamp });
        return tx;
      },
      set: (key, value) => {
        op.set(key as Deno.KvKey, value);
        return tx;
      },
      delete: (key) => {
        op.delete(key as Deno.KvKey);
        return tx;
      },
      commit: async () => ({ ok: (await retryLocked(() => op.commit())).ok }),
    };
    return tx;
  }

  close(): void {
    this.kv.close();
  }
}

/** Name of the KV file inside the data folder. */
export const KV_FILE = "spike.kv";

/** Opens the KV file in `dataDir` (created with mode 0700 if missing). */
export async function openKvStore(dataDir: string): Promise<Store> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  return new KvStore(await Deno.openKv(join(dataDir, KV_FILE)));
}

/** Opens a store that lives in memory only. */
export async function openMemoryStore(): Promise<Store> {
  return new KvStore(await Deno.openKv(":memory:"));
}
