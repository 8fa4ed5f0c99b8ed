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
import type {
  CommitResult,
  ListOptions,
  Store,
  StoreEntry,
  StoreKey,
  StoreTransaction,
} from "./store.ts";

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

/** What is known of a key's stored form: at `versionstamp` (null: absent) it had `parts` parts. */
interface Known {
  versionstamp: string | null;
  parts: number;
}

/** A caller's commit: its checks and its writes (the last write of each key). */
interface Pending {
  checks: [StoreKey, string | null][];
  writes: { key: StoreKey; value: Uint8Array | null }[];
  resolve: (result: CommitResult) => void;
  reject: (error: unknown) => void;
}

/** A caller's read, waiting for the next batch (see {@link KvStore}). */
interface PendingRead {
  key: Deno.KvKey;
  resolve: (entry: Deno.KvEntryMaybe<Stored>) => void;
  reject: (error: unknown) => void;
}

/** Deno KV's limits on one atomic operation, with room to spare. */
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
const MAX_BATCH_BYTES = 512 * 1024;
/** Keys whose stored form is remembered (see {@link KvStore}). */
const KNOWN_LIMIT = 50_000;

const keyId = (key: StoreKey) => JSON.stringify(key);
/** The guess for a key set without having been read (see {@link KvStore}). */
const ABSENT: Known = Object.freeze({ versionstamp: null, parts: 0 });

/**
 * The store on one Deno KV database.
 *
 * Each Deno KV operation is an asynchronous round trip to its own thread,
 * and a commit costs several times a read, so commits are grouped: those
 * that arrive while one is being written go together into the next Deno KV
 * atomic operation (callers with disjoint keys only; their checks and writes
 * all apply or none do), and each caller is answered when that operation is
 * committed, so nothing is acknowledged before it is stored. When a grouped
 * operation fails a check, each of its callers is tried alone, so one
 * caller's lost check never fails another.
 *
 * A commit must know whether the keys it writes hold parts (to delete them).
 * Rather than reading every written key first, this store remembers, for
 * keys it recently read or wrote, the versionstamp it saw and the parts it
 * held then, and adds a check on that versionstamp to the commit: the guess
 * is used only if it is still true in the store, across processes too (a
 * lost guess is read again and the commit retried). It never answers a read.
 * A key it knows nothing of is guessed absent when set (a new secret
 * version's data, the commonest write, always is) and read first when
 * deleted (an old version's data is rarely absent).
 *
 * Reads are grouped the same way, for the same reason: the reads callers
 * ask for within one turn of the event loop (up to Deno KV's 10 keys per
 * `getMany`) go to the store as one `getMany`, sent once that turn's
 * microtasks have run. Each is still a read of the store as it is after the
 * caller asked (one snapshot for the group), nothing is answered from
 * memory, and a group that fails is read key by key, so one caller's bad
 * key never fails another's read. With many concurrent requests this about
 * halves the store's cost per read (README, Performance).
 */
export class KvStore implements Store {
  readonly #known = new Map<string, Known>();
  #pending: Pending[] = [];
  #flushing = false;
  /** Callers of a failed group, being tried alone. */
  readonly #alone = new Set<Promise<void>>();
  /** Reads asked for in this turn of the event loop, sent together at its end. */
  #reads: PendingRead[] = [];

  /** Set while a snapshot or a scrub holds commits back. */
  #held: Promise<void> | null = null;

  constructor(
    readonly kv: Deno.Kv,
    /** The KV file (none: in memory). */
    readonly file?: string,
  ) {}

  #remember(key: StoreKey, known: Known): void {
    const id = keyId(key);
    this.#known.delete(id); // re-inserted last: the map's order is the order of use
    this.#known.set(id, known);
    if (this.#known.size > KNOWN_LIMIT) this.#known.delete(this.#known.keys().next().value!);
  }

  async #getMany(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<Stored>[]> {
    const batches: Promise<Deno.KvEntryMaybe<Stored>[]>[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY) {
      batches.push(this.kv.getMany<Stored[]>(keys.slice(i, i + GET_MANY)));
    }
    return (await Promise.all(batches)).flat();
  }

  /** Reads one key, in this turn's group of reads. */
  #read(key: StoreKey): Promise<Deno.KvEntryMaybe<Stored>> {
    return new Promise((resolve, reject) => {
      this.#reads.push({ key: key as Deno.KvKey, resolve, reject });
      if (this.#reads.length === 1) queueMicrotask(() => this.#sendReads());
    });
  }

  #sendReads(): void {
    const reads = this.#reads;
    this.#reads = [];
    for (let i = 0; i < reads.length; i += GET_MANY) {
      const group = reads.slice(i, i + GET_MANY);
      if (group.length === 1) {
        this.#readAlone(group[0]);
        continue;
      }
      this.kv.getMany<Stored[]>(group.map((r) => r.key)).then(
        (entries) => entries.forEach((entry, j) => group[j].resolve(entry)),
        () => group.forEach((r) => this.#readAlone(r)), // each caller gets its own answer
      );
    }
  }

  #readAlone(read: PendingRead): void {
    // A key Deno KV refuses throws at once rather than rejecting: both reach the caller.
    new Promise<Deno.KvEntryMaybe<Stored>>((resolve) => resolve(this.kv.get<Stored>(read.key)))
      .then(read.resolve, read.reject);
  }

  async get(key: StoreKey): Promise<StoreEntry | null> {
    for (;;) {
      const entry = await this.#read(key);
      this.#remember(key, { versionstamp: entry.versionstamp, parts: headerParts(entry.value) });
      if (entry.versionstamp === null) return null;
      if (entry.value instanceof Uint8Array) {
        return { key, value: entry.value, versionstamp: entry.versionstamp };
      }
      const count = entry.value.parts;
      const parts = await this.#getMany(Array.from({ length: count }, (_, i) => partKey(key, i)));
      const again = await this.#read(key);
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
        writes.set(keyId(key), { key, value });
        return tx;
      },
      delete: (key) => {
        writes.set(keyId(key), { key, value: null });
        return tx;
      },
      commit: () =>
        new Promise((resolve, reject) => {
          this.#pending.push({ checks, writes: [...writes.values()], resolve, reject });
          this.#startFlush();
        }),
    };
    return tx;
  }

  #startFlush(): void {
    if (this.#flushing || this.#held) return;
    this.#flush().catch((e) => { // not expected: every caller's failure is its own
      for (const p of this.#pending.splice(0)) p.reject(e);
    });
  }

  /**
   * Runs `op` with this store's commits held back: commits under way finish
   * first, new ones wait in the queue (none is refused) and go on after.
   * Deno KV lists in several reads, so this is what makes a listing one
   * moment's records (only this process writes a KV file).
   */
  async #holdingCommits<T>(op: () => Promise<T>): Promise<T> {
    while (this.#held) await this.#held;
    let release!: () => void;
    this.#held = new Promise((resolve) => release = resolve);
    try {
      while (this.#flushing || this.#alone.size > 0) await new Promise((r) => setTimeout(r, 1));
      return await op();
    } finally {
      this.#held = null;
      release();
      this.#startFlush();
    }
  }

  /** Every record as of one moment (see {@link #holdingCommits}). */
  snapshot(): Promise<StoreEntry[]> {
    return this.#holdingCommits(() => this.list([]));
  }

  /**
   * Makes the bytes of deleted records leave `spike.kv` and `spike.kv-wal`,
   * with commits held back. Deno KV keeps its data in SQLite and offers no
   * `secure_delete` on its own connection, and Deno's `node:sqlite` refuses
   * `VACUUM` (it attaches a database; the attach limit is 0), so a second
   * connection with `secure_delete` on does what `VACUUM` would, in one
   * transaction: it takes every free page into a zero-filled blob and frees
   * them again (zeroed), then deletes every row of Deno KV's `kv` table and
   * writes them back, which zeroes every page they were in, freed cells
   * included, and rebuilds them from zeroed pages. Then the WAL is
   * checkpointed and truncated. It takes time in proportion to the store's
   * size; writes wait meanwhile, reads go on.
   */
  scrub(): Promise<string | null> {
    const file = this.file;
    if (file === undefined) return Promise.resolve(null); // memory: nothing on disk
    return this.#holdingCommits(async () => {
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(file);
      try {
        db.exec(
          "PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY",
        );
        const { page_size: pageSize } = db.prepare("PRAGMA page_size").get() as {
          page_size: number;
        };
        db.exec("BEGIN IMMEDIATE");
        try {
          const { freelist_count: free } = db.prepare("PRAGMA freelist_count").get() as {
            freelist_count: number;
          };
          db.exec("CREATE TABLE spike_scrub (b BLOB)");
          db.prepare("INSERT INTO spike_scrub VALUES (zeroblob(?))").run((free + 1) * pageSize);
          db.exec(`
            DROP TABLE spike_scrub;
            CREATE TEMP TABLE spike_rows AS SELECT * FROM main.kv;
            DELETE FROM main.kv;
            INSERT INTO main.kv SELECT * FROM temp.spike_rows;
            DROP TABLE temp.spike_rows;
            COMMIT;
          `);
        } catch (e) {
          if (db.isTransaction) db.exec("ROLLBACK");
          throw e;
        }
        for (let attempt = 0; attempt < 20; attempt++) {
          const row = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number };
          if (row.busy === 0) return null;
          await new Promise((r) => setTimeout(r, 50));
        }
        return "the KV file's WAL could not be truncated (a reader held it): old page images " +
          "stay in spike.kv-wal until the next checkpoint";
      } finally {
        db.close();
      }
    });
  }

  /** Writes pending commits, a group at a time, until none is left (or commits are held). */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pending.length > 0 && !this.#held) {
        const group = this.#takeGroup();
        if (group.length === 1) {
          await this.#commitAlone(group[0]);
          continue;
        }
        let versionstamp: string | null;
        try {
          versionstamp = await this.#attempt(group, true);
        } catch {
          versionstamp = null; // each is tried alone below, and reports its own failure
        }
        if (versionstamp !== null) {
          for (const p of group) p.resolve({ ok: true, versionstamp });
        } else {
          for (const p of group) for (const w of p.writes) this.#known.delete(keyId(w.key));
          // Not awaited: the next group need not wait for these.
          for (const p of group) {
            const done = this.#commitAlone(p).finally(() => this.#alone.delete(done));
            this.#alone.add(done);
          }
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * The next group from the queue: callers in arrival order while their keys
   * are disjoint from the group's and the group stays within Deno KV's limits;
   * a caller with a large value goes alone.
   */
  #takeGroup(): Pending[] {
    const group: Pending[] = [];
    // Keys the group writes, and keys it only checks (with the versionstamp checked).
    const written = new Set<string>();
    const checked = new Map<string, string | null>();
    let checks = 0;
    let mutations = 0;
    let bytes = 0;
    const rest: Pending[] = [];
    for (const p of this.#pending) {
      const writes = p.writes.map((w) => keyId(w.key));
      const size = p.writes.reduce((n, w) => n + (w.value?.length ?? 0), 0);
      const large = p.writes.some((w) => w.value !== null && partCount(w.value) > 0);
      // Callers that check the same key at the same versionstamp without writing it (every
      // secret write checks the keyring record) do not conflict: one commit holds both checks.
      const conflicts = () =>
        writes.some((id) => written.has(id) || checked.has(id)) ||
        p.checks.some(([k, v]) => {
          const id = keyId(k);
          return written.has(id) || (checked.has(id) && checked.get(id) !== v);
        });
      const fits = group.length === 0 ||
        (!large && !conflicts() &&
          checks + p.checks.length + p.writes.length <= MAX_CHECKS &&
          mutations + p.writes.length <= MAX_MUTATIONS && bytes + size <= MAX_BATCH_BYTES &&
          !group.some((g) => g.writes.some((w) => w.value !== null && partCount(w.value) > 0)));
      if (!fits) {
        rest.push(p);
        continue;
      }
      group.push(p);
      for (const id of writes) written.add(id);
      for (const [k, v] of p.checks) {
        const id = keyId(k);
        if (checked.has(id)) checks--; // the same check, made once (see #attempt)
        else if (!written.has(id)) checked.set(id, v);
      }
      checks += p.checks.length + p.writes.length;
      mutations += p.writes.length;
      bytes += size;
    }
    this.#pending = rest;
    return group;
  }

  /** One caller's commit, retried while only this store's own checks lose. */
  async #commitAlone(p: Pending): Promise<void> {
    try {
      for (let attempt = 0;; attempt++) {
        const versionstamp = await this.#attempt([p], attempt === 0);
        if (versionstamp !== null) return p.resolve({ ok: true, versionstamp });
        // Lost. If a check of the caller's fails now, that is the answer; else only ours lost.
        const now = await this.#getMany(p.checks.map(([key]) => key as Deno.KvKey));
        if (p.checks.some(([, versionstamp], i) => now[i].versionstamp !== versionstamp)) {
          return p.resolve({ ok: false });
        }
        for (const w of p.writes) this.#known.delete(keyId(w.key));
        if (attempt >= 100) throw new Error("could not commit: too many concurrent writers");
      }
    } catch (e) {
      p.reject(e);
    }
  }

  /**
   * One Deno KV atomic operation for `group`: every caller's checks, a check
   * of each written key's stored form (remembered when `useKnown`, else read
   * now), the deletion of parts a written key no longer needs, and the writes.
   * Its versionstamp when committed, else null.
   */
  async #attempt(group: Pending[], useKnown: boolean): Promise<string | null> {
    const writes = group.flatMap((p) => p.writes);
    const known: (Known | undefined)[] = writes.map((w) =>
      useKnown
        ? this.#known.get(keyId(w.key)) ?? (w.value === null ? undefined : ABSENT)
        : undefined
    );
    const unknown = writes.filter((_, i) => known[i] === undefined);
    const read = await this.#getMany(unknown.map((w) => w.key as Deno.KvKey));
    let r = 0;
    const before = known.map((k) => {
      if (k) return k;
      const entry = read[r++];
      return { versionstamp: entry.versionstamp, parts: headerParts(entry.value) };
    });
    const op = this.kv.atomic();
    const made = new Set<string>();
    for (const p of group) {
      for (const [key, versionstamp] of p.checks) {
        const id = `${versionstamp}${keyId(key)}`;
        if (made.has(id)) continue; // callers sharing a check (see #takeGroup)
        made.add(id);
        op.check({ key: key as Deno.KvKey, versionstamp });
      }
    }
    writes.forEach(({ key, value }, w) => {
      const old = before[w];
      // Most written keys are also checked by their caller (at the same versionstamp): once.
      if (!made.has(`${old.versionstamp}${keyId(key)}`)) {
        op.check({ key: key as Deno.KvKey, versionstamp: old.versionstamp });
      }
      const count = value ? partCount(value) : 0;
      for (let i = count; i < old.parts; i++) op.delete(partKey(key, i));
      if (value === null) op.delete(key as Deno.KvKey);
      else if (count === 0) op.set(key as Deno.KvKey, value);
      else {
        op.set(key as Deno.KvKey, { parts: count } satisfies Header);
        for (let i = 0; i < count; i++) {
          op.set(partKey(key, i), value.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
        }
      }
    });
    const result = await retryLocked(() => op.commit());
    if (!result.ok) return null;
    for (const { key, value } of writes) {
      this.#remember(
        key,
        value === null
          ? { versionstamp: null, parts: 0 }
          : { versionstamp: result.versionstamp, parts: partCount(value) },
      );
    }
    return result.versionstamp;
  }

  async close(): Promise<void> {
    // Finish what was acknowledged or is being committed, then release the database.
    while (this.#flushing || this.#pending.length > 0 || this.#alone.size > 0) {
      await new Promise((r) => setTimeout(r, 0));
    }
    this.kv.close();
  }
}

/** Opens the KV file in `dataDir` (created with mode 0700 if missing). */
export async function openKvStore(dataDir: string): Promise<Store> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, KV_FILE);
  return new KvStore(await Deno.openKv(file), file);
}

/** Opens a store that lives in memory only (the `memory` backend). */
export async function openMemoryStore(): Promise<Store> {
  return new KvStore(await Deno.openKv(":memory:"));
}
