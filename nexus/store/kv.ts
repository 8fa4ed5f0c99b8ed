/**
 * The `kv` and `memory` backends: the store on Deno KV, in a file under the
 * data folder or in memory (nothing persisted).
 *
 * Deno KV refuses values above 64 KiB; the store takes whole values, so this
 * backend splits what is larger. A value up to {@link PART_BYTES} is stored
 * as it is at its key (records written before this backend split values are
 * read unchanged). A larger one is a small header `{ parts: n }` at its key
 * and `n` parts at `[PARTS, ...key, i]`, written in the same atomic commit as
 * the header. A read that finds a header gathers the parts and then checks
 * that the header did not change meanwhile (else it reads again), so it never
 * joins parts of two writes. Every commit reads the headers of the keys it
 * writes and checks them, so the parts of a replaced or deleted value are
 * deleted with it and none is left behind; when only those checks lost (the
 * caller's own checks still hold), the commit is tried again.
 *
 * @module
 */

import { join } from "node:path";
import { STORE_FILES } from "../../lib/config/programs.ts";
import type { ListOptions, Store, StoreEntry, StoreKey, StoreTransaction } from "./store.ts";

/** Name of the KV file inside the data folder. */
export const KV_FILE = STORE_FILES.kv;

/** Largest value stored in one Deno KV entry (the limit is 64 KiB). */
export const PART_BYTES = 60 * 1024;

/** First key element of the parts of large values; Nexus's own keys never start with it. */
export const PARTS = "kv-parts";

/** Deno KV's limit on keys per `getMany`. */
const GET_MANY = 10;

interface Header {
  parts: number;
}
type Stored = Uint8Array | Header;

const partKey = (key: StoreKey, i: number): Deno.KvKey => [PARTS, ...key, i];
const partCount = (value: Uint8Array) =>
  value.length <= PART_BYTES ? 0 : Math.ceil(value.length / PART_BYTES);
/** How many parts the value stored at a key has (0: stored whole, or absent). */
const headerParts = (value: Stored | null) =>
  value === null || value instanceof Uint8Array ? 0 : value.parts;

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

/** The store on one Deno KV database. */
export class KvStore implements Store {
  constructor(readonly kv: Deno.Kv) {}

  async #getMany(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<Stored>[]> {
    const out: Deno.KvEntryMaybe<Stored>[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY) {
      out.push(...await this.kv.getMany<Stored[]>(keys.slice(i, i + GET_MANY)));
    }
    return out;
  }

  async get(key: StoreKey): Promise<StoreEntry | null> {
    for (;;) {
      const entry = await this.kv.get<Stored>(key as Deno.KvKey);
      if (entry.versionstamp === null) return null;
      if (entry.value instanceof Uint8Array) {
        return { key, value: entry.value, versionstamp: entry.versionstamp };
      }
      const count = entry.value.parts;
      const parts = await this.#getMany(Array.from({ length: count }, (_, i) => partKey(key, i)));
      const again = await this.kv.get<Stored>(key as Deno.KvKey);
      if (again.versionstamp !== entry.versionstamp) continue; // rewritten meanwhile: read again
      const value = new Uint8Array(
        parts.reduce((n, p) => n + ((p.value as Uint8Array | null)?.length ?? 0), 0),
      );
      let at = 0;
      for (const [i, part] of parts.entries()) {
        if (!(part.value instanceof Uint8Array)) {
          throw new Error(`store record ${JSON.stringify(key)}: part ${i} of ${count} is missing`);
        }
        value.set(part.value, at);
        at += part.value.length;
      }
      return { key, value, versionstamp: entry.versionstamp };
    }
  }

  async list(prefix: StoreKey, options: ListOptions = {}): Promise<StoreEntry[]> {
    const out: StoreEntry[] = [];
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return out;
    // Under an empty prefix the parts show too: they are skipped, so the limit is applied here.
    const iterator = this.kv.list<Stored>({ prefix: prefix as Deno.KvKey }, {
      limit: prefix.length > 0 ? options.limit : undefined,
      reverse: options.reverse,
    });
    for await (const entry of iterator) {
      if (prefix.length === 0 && entry.key[0] === PARTS) continue;
      const key = entry.key as StoreKey;
      if (entry.value instanceof Uint8Array) {
        out.push({ key, value: entry.value, versionstamp: entry.versionstamp });
      } else {
        const whole = await this.get(key); // the whole value, as it is now
        if (whole) out.push(whole);
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  atomic(): StoreTransaction {
    const checks: [StoreKey, string | null][] = [];
    // The last write of each key wins, as in one Deno KV atomic operation.
    const writes = new Map<string, { key: StoreKey; value: Uint8Array | null }>();
    const tx: StoreTransaction = {
      check: (key, versionstamp) => {
        checks.push([key, versionstamp]);
        return tx;
      },
      set: (key, value) => {
        writes.set(JSON.stringify(key), { key, value });
        return tx;
      },
      delete: (key) => {
        writes.set(JSON.stringify(key), { key, value: null });
        return tx;
      },
      commit: () => this.#commit(checks, [...writes.values()]),
    };
    return tx;
  }

  async #commit(
    checks: [StoreKey, string | null][],
    writes: { key: StoreKey; value: Uint8Array | null }[],
  ): Promise<{ ok: boolean }> {
    for (let attempt = 0;; attempt++) {
      const op = this.kv.atomic();
      for (const [key, versionstamp] of checks) op.check({ key: key as Deno.KvKey, versionstamp });
      const current = await this.#getMany(writes.map((w) => w.key as Deno.KvKey));
      writes.forEach(({ key, value }, w) => {
        const old = current[w];
        op.check({ key: key as Deno.KvKey, versionstamp: old.versionstamp });
        const count = value ? partCount(value) : 0;
        for (let i = count; i < headerParts(old.value); i++) {
          op.delete(partKey(key, i));
        }
        if (value === null) op.delete(key as Deno.KvKey);
        else if (count === 0) op.set(key as Deno.KvKey, value);
        else {
          op.set(key as Deno.KvKey, { parts: count } satisfies Header);
          for (let i = 0; i < count; i++) {
            op.set(partKey(key, i), value.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
          }
        }
      });
      if ((await retryLocked(() => op.commit())).ok) return { ok: true };
      // Lost. If a check of the caller's fails now, that is the answer; else only ours lost.
      const now = await this.#getMany(checks.map(([key]) => key as Deno.KvKey));
      if (checks.some(([, versionstamp], i) => now[i].versionstamp !== versionstamp)) {
        return { ok: false };
      }
      if (attempt >= 100) throw new Error("could not commit: too many concurrent writers");
    }
  }

  close(): Promise<void> {
    this.kv.close();
    return Promise.resolve();
  }
}

/** Opens the KV file in `dataDir` (created with mode 0700 if missing). */
export async function openKvStore(dataDir: string): Promise<Store> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  return new KvStore(await Deno.openKv(join(dataDir, KV_FILE)));
}

/** Opens a store that lives in memory only (the `memory` backend). */
export async function openMemoryStore(): Promise<Store> {
  return new KvStore(await Deno.openKv(":memory:"));
}
