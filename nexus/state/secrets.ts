/**
 * Secrets with versions, encrypted at rest.
 *
 * Layout in the store (paths and version numbers are in the keys, in clear):
 * - `["secret-meta", path]`: the path's metadata (versions, their times,
 *   current and oldest) and a copy of the current version's values, sealed
 *   together in one record bound to the path (the forms: `secret_record.ts`),
 *   so that a get of the current version takes one store read and one
 *   AES-GCM open. The copy is written in the same commit as the metadata, so
 *   it is never stale. A path with no current version, or one too large to
 *   copy, has its metadata sealed alone, and its data is read from the data
 *   key. Records of older Nexus versions are read as they are: metadata
 *   sealed alone, or beside a copy of the current version's sealed data
 *   record; the next write of the path rewrites
 *   them in the joint form;
 * - `["secret-data", path, version, 0]`: the version's values as JSON, one
 *   whole sealed value bound to its path and version (the store's backend
 *   deals with its own size limits). Versions written before the store took
 *   whole values may be in several chunks `0..n-1` (their metadata says
 *   `chunks: n`); they are read and pruned as they are.
 *
 * Every write is one atomic commit checked against the metadata's
 * versionstamp ({@link compareAndSet}): concurrent writers to a path each get
 * their own version and none is lost, across processes too.
 * Versions beyond the maximum are deleted from the store in the same commit.
 * A record that fails its integrity check is never served.
 *
 * @module
 */

import { ApiError, notFound } from "../../lib/api/errors.ts";
import {
  sealedGeneration,
  type SealingKey,
  UnknownGenerationError,
} from "../../lib/crypto/aead.ts";
import {
  type Copy,
  dataAad,
  discard,
  type MetaRead,
  openMetaRecord,
  sealMetaRecord,
  type SecretMeta,
  type VersionRecord,
} from "./secret_record.ts";
import {
  compareAndSet,
  type Store,
  type StoreEntry,
  type StoreKey,
  type StoreTransaction,
} from "../store/store.ts";

/**
 * The root key's generations, as the records' users see them (see
 * `rootkey.ts`): a write guards its commit, a read that meets a generation
 * it does not know learns the keyring record again and tries once more.
 */
export interface Generations {
  /** Checks the keyring in `tx`; attempts after the first learn the latest record first. */
  guard(tx: StoreTransaction, attempt: number): Promise<void>;
  refresh(): Promise<void>;
}

/** Runs `read`; when it met a generation another replica made, learns it and runs it again. */
export async function withGenerations<T>(
  generations: Generations | undefined,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof UnknownGenerationError) || !generations) throw e;
    await generations.refresh();
    return await read();
  }
}

/** Hands `early` to the first attempt only: a second one reads the store again. */
function firstAttemptOnly<T>(early: T | undefined): () => T | undefined {
  let left = early;
  return () => {
    const first = left;
    left = undefined;
    return first;
  };
}

const metaKey = (path: string): StoreKey => ["secret-meta", path];
const dataKey = (path: string, version: number, chunk: number): StoreKey => [
  "secret-data",
  path,
  version,
  chunk,
];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function versionNumbers(meta: SecretMeta): number[] {
  return Object.keys(meta.versions).map(Number).sort((a, b) => a - b);
}

function live(meta: SecretMeta): number[] {
  return versionNumbers(meta).filter((v) => meta.versions[v].deleted === null);
}

function recomputeOldest(meta: SecretMeta): void {
  meta.oldest = live(meta)[0] ?? 0;
}

/** The chunks a version's data is in (one, unless written by an older Nexus). */
const chunksOf = (record: VersionRecord) => record.chunks ?? 1;

/** Sealed data up to this size is copied beside the metadata; larger is read from its key. */
export const INLINE_DATA_BYTES = 32 * 1024;

/** Paths whose metadata record this process's writes remember (see {@link Secrets}). */
const WRITTEN_LIMIT = 10_000;

/**
 * The versioned, encrypted secrets of one Nexus.
 *
 * A write is a read-modify-write of the path's metadata record. For paths it
 * wrote recently, this process remembers the metadata it wrote (no values)
 * and the commit's versionstamp, and the next write of the path takes that as its
 * guess instead of reading the record (`guess` of {@link compareAndSet}):
 * the commit is checked against the guessed versionstamp, so when another
 * process (or a rotation's re-seal) wrote the record meanwhile the commit
 * loses and the record is read. Nothing is answered from this memory; reads
 * always read the store.
 */
export class Secrets {
  // Writers to the same path in this process take turns; CAS covers other processes.
  readonly #queues = new Map<string, Promise<unknown>>();
  /** The metadata (as JSON, no values) this process last wrote per path, with its versionstamp. */
  readonly #written = new Map<string, { metaJson: string; versionstamp: string }>();

  constructor(
    readonly store: Store,
    /** The secrets sub-key; throws when the root key is not known. */
    readonly key: () => SealingKey,
    /** Versions to keep per path, read at each write. */
    readonly maxVersions: () => number,
    /** The root key's generations (absent: one key, as in unit tests). */
    readonly generations?: Generations,
  ) {}

  #openMeta(path: string, value: Uint8Array): MetaRead {
    return openMetaRecord(this.key(), path, value);
  }

  /** Runs `use` on the record `value` opened, then zeroes the values read with it. */
  async #opened<T>(
    path: string,
    value: Uint8Array,
    use: (read: MetaRead) => Promise<T>,
  ): Promise<T> {
    const read = this.#openMeta(path, value);
    try {
      return await use(read);
    } finally {
      discard(read);
    }
  }

  /**
   * The values of a copy: opened now if still sealed, else the joint record's
   * own bytes (zeroed with the read) or, with `own`, a copy of them; the
   * caller zeroes what it owns.
   */
  #copyValues(path: string, copy: Copy, own = false): Uint8Array {
    if (copy.json) return own ? copy.json.slice() : copy.json;
    return this.key().open(copy.sealed, dataAad(path, copy.version, 0, 1));
  }

  /** Opens the metadata record read by `early` (see {@link readMeta}), or read now. */
  async #readMeta(path: string, early?: Promise<StoreEntry | null>): Promise<MetaRead | null> {
    const entry = await (early ?? this.readMeta(path));
    return entry && this.#openMeta(path, entry.value);
  }

  /**
   * Reads the record a {@link get} or {@link metadata} of `path` starts
   * with, as the store holds it now, and opens nothing: a caller may begin
   * it beside its own reads and hand the promise to that call. A call that
   * must read again (another replica's new root-key generation) does.
   */
  readMeta(path: string): Promise<StoreEntry | null> {
    return this.store.get(metaKey(path));
  }

  /** The record for `meta`: joint with `values` (the current version's), or sealed alone. */
  #sealMeta(meta: SecretMeta, values: Uint8Array | null, text = JSON.stringify(meta)): Uint8Array {
    return sealMetaRecord(this.key(), meta.path, encoder.encode(text), values);
  }

  /**
   * The current version's values to keep with `meta` (the caller zeroes
   * them): the copy read with it when still current, else the version's
   * record from the store (none when there is no current version, or it is
   * chunked or large).
   */
  async #copyFor(path: string, meta: SecretMeta, had: Copy | null): Promise<Uint8Array | null> {
    const v = meta.current;
    const record = meta.versions[v];
    if (v === 0 || !record || chunksOf(record) !== 1) return null;
    if (had?.version === v) return this.#copyValues(path, had, true);
    const entry = await this.store.get(dataKey(path, v, 0));
    return entry && entry.value.length <= INLINE_DATA_BYTES
      ? this.key().open(entry.value, dataAad(path, v, 0, 1))
      : null;
  }

  /**
   * The metadata record as this process last wrote it, as a guess for
   * {@link compareAndSet} (its value is never opened: `meta` is what it held,
   * without the copy of the data).
   */
  #guess(path: string): { entry: StoreEntry; meta: SecretMeta } | undefined {
    const written = this.#written.get(path);
    if (!written) return undefined;
    this.#written.delete(path); // re-inserted when this write commits: the map is in order of use
    return {
      entry: { key: metaKey(path), value: new Uint8Array(), versionstamp: written.versionstamp },
      meta: JSON.parse(written.metaJson),
    };
  }

  #rememberWrite(path: string, metaJson: string, versionstamp: string | undefined): void {
    if (versionstamp === undefined) return;
    // The copy of the data is left out: a put brings its own, other writes read it if needed.
    this.#written.set(path, { metaJson, versionstamp });
    if (this.#written.size > WRITTEN_LIMIT) {
      this.#written.delete(this.#written.keys().next().value!);
    }
  }

  #serially<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(path) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.#queues.set(path, tail);
    tail.then(() => {
      if (this.#queues.get(path) === tail) this.#queues.delete(path);
    });
    return run;
  }

  /**
   * Runs a read-modify-write of a path's metadata until its commit wins.
   * `change` may name the new current version's values (`values`, a put's
   * new data, which stays the caller's); otherwise the copy follows the
   * current version.
   */
  async #update<T>(
    path: string,
    change: (
      current: SecretMeta | null,
      tx: StoreTransaction,
    ) => { meta: SecretMeta; result: T; values?: Uint8Array | null },
  ): Promise<T> {
    return await this.#serially(path, async () => {
      let metaJson!: string;
      const guess = this.#guess(path);
      return await compareAndSet(this.store, metaKey(path), async (entry, tx, attempt) => {
        await this.generations?.guard(tx, attempt);
        const read: MetaRead | null = entry === guess?.entry
          ? { meta: guess.meta, copy: null }
          : entry && this.#openMeta(path, entry.value);
        try {
          const { meta, result, values } = change(read?.meta ?? null, tx);
          const copy = values !== undefined
            ? values
            : await this.#copyFor(path, meta, read?.copy ?? null);
          try {
            metaJson = JSON.stringify(meta);
            tx.set(metaKey(path), this.#sealMeta(meta, copy, metaJson));
          } finally {
            if (values === undefined) copy?.fill(0); // ours, not the caller's
          }
          return result;
        } finally {
          discard(read);
        }
      }, {
        attempts: 200,
        what: path,
        guess: guess?.entry,
        committed: (versionstamp) => this.#rememberWrite(path, metaJson, versionstamp),
      });
    });
  }

  /**
   * Stores `json` (the values) as a new version; returns its number. With
   * `cas`, only when the current version is `cas` (0: none), else 409.
   */
  async put(path: string, json: Uint8Array, cas?: number): Promise<number> {
    return await this.#update(path, (meta, tx) => {
      if (cas !== undefined && (meta?.current ?? 0) !== cas) throw new ApiError("api_conflict");
      const now = Date.now();
      const next = meta ?? {
        path,
        current: 0,
        oldest: 0,
        created: now,
        updated: now,
        maxVersions: 0,
        versions: {},
      };
      const existing = versionNumbers(next);
      const version = next.current > 0 ? next.current + 1 : (existing.at(-1) ?? 0) + 1;
      const sealed = this.key().seal(json, dataAad(path, version, 0, 1));
      tx.set(dataKey(path, version, 0), sealed);
      next.versions[version] = { created: now, deleted: null };
      next.current = version;
      next.updated = now;
      next.maxVersions = this.maxVersions();
      // Keep at most maxVersions: the lowest-numbered go, deleted or not, from storage too.
      for (const old of versionNumbers(next).slice(0, -next.maxVersions)) {
        for (let i = 0; i < chunksOf(next.versions[old]); i++) tx.delete(dataKey(path, old, i));
        delete next.versions[old];
      }
      recomputeOldest(next);
      return {
        meta: next,
        result: version,
        values: sealed.length <= INLINE_DATA_BYTES ? json : null,
      };
    });
  }

  /**
   * A version's values (0: the current one); 404 when missing or deleted.
   * `early`: the path's record, as {@link readMeta} began reading it.
   */
  async get(
    path: string,
    version: number,
    early?: Promise<StoreEntry | null>,
  ): Promise<Record<string, string>> {
    const json = await this.getJson(path, version, early);
    try {
      return JSON.parse(decoder.decode(json)) as Record<string, string>;
    } finally {
      json.fill(0);
    }
  }

  /**
   * A version's values as the JSON object they are stored as (see {@link get}),
   * in bytes the caller owns and zeroes once used: a get can answer with them
   * as they are, and the values never become strings in this process.
   */
  getJson(
    path: string,
    version: number,
    early?: Promise<StoreEntry | null>,
  ): Promise<Uint8Array> {
    const first = firstAttemptOnly(early);
    return withGenerations(this.generations, () => this.#getJson(path, version, first()));
  }

  async #getJson(
    path: string,
    version: number,
    early: Promise<StoreEntry | null> | undefined,
  ): Promise<Uint8Array> {
    const read = await this.#readMeta(path, early);
    if (!read) throw notFound();
    try {
      const { meta, copy } = read;
      const v = version === 0 ? meta.current : version;
      const record = meta.versions[v];
      if (v === 0 || !record || record.deleted !== null) throw notFound();
      return copy && copy.version === v && v === meta.current
        ? this.#copyValues(path, copy, true)
        : chunksOf(record) === 1
        ? await this.#readWhole(path, v)
        : await this.#readChunks(path, v, chunksOf(record));
    } finally {
      discard(read);
    }
  }

  async #readWhole(path: string, v: number): Promise<Uint8Array> {
    const entry = await this.store.get(dataKey(path, v, 0));
    if (!entry) throw new Error(`secret ${path} version ${v}: its data is missing`);
    return this.key().open(entry.value, dataAad(path, v, 0, 1));
  }

  /** A version an older Nexus wrote in chunks, each sealed on its own. */
  async #readChunks(path: string, v: number, chunks: number): Promise<Uint8Array> {
    const entries = await this.store.list(["secret-data", path, v]);
    if (entries.length !== chunks) {
      throw new Error(`secret ${path} version ${v}: ${entries.length} of ${chunks} chunks`);
    }
    const parts = entries.map((entry, i) => {
      if (entry.key[3] !== i) throw new Error(`secret ${path} version ${v}: chunk ${i} missing`);
      return this.key().open(entry.value, dataAad(path, v, i, chunks));
    });
    const json = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      json.set(p, at);
      at += p.length;
      p.fill(0);
    }
    return json;
  }

  /** Marks versions deleted (0 or none: the current one); 404 when the path is unknown. */
  async delete(path: string, versions: number[]): Promise<void> {
    await this.#update(path, (meta) => {
      if (!meta) throw notFound();
      const now = Date.now();
      const targets = versions.length === 0
        ? [meta.current]
        : versions.map((v) => v || meta.current);
      let currentDeleted = false;
      for (const v of targets) {
        const record = meta.versions[v];
        if (!record) continue; // unknown versions are ignored, as upstream
        record.deleted = now;
        if (v === meta.current) currentDeleted = true;
      }
      if (currentDeleted) {
        meta.current = live(meta).at(-1) ?? 0;
        meta.updated = now;
      }
      recomputeOldest(meta);
      return { meta, result: undefined };
    });
  }

  /**
   * Clears the deletion of versions. With no versions (or only 0) while every
   * version is deleted, the highest deleted one comes back. 404 when the path
   * is unknown or nothing was undeleted.
   */
  async undelete(path: string, versions: number[]): Promise<void> {
    await this.#update(path, (meta) => {
      if (!meta) throw notFound();
      const now = Date.now();
      let targets: number[];
      if (versions.length === 0 || (meta.current === 0 && versions.every((v) => v === 0))) {
        const deleted = versionNumbers(meta).filter((v) => meta.versions[v].deleted !== null);
        targets = meta.current === 0 ? deleted.slice(-1) : [meta.current];
      } else {
        targets = versions.map((v) => v || meta.current).filter((v) => v !== 0);
      }
      const cleared = targets.filter((v) => meta.versions[v]?.deleted != null);
      if (cleared.length === 0) throw notFound();
      for (const v of cleared) meta.versions[v].deleted = null;
      const highest = Math.max(...cleared);
      if (highest > meta.current) {
        meta.current = highest;
        meta.updated = now;
      }
      recomputeOldest(meta);
      return { meta, result: undefined };
    });
  }

  /**
   * Removes versions from storage for good (0: the current one); with none
   * given, the whole path: its metadata and every data record under it.
   * Unlike delete, a version that is not stored is a 404 and nothing is
   * removed. A path left with no version is removed whole. Resolves with the
   * versions removed. The store's backend decides what happens to the freed
   * bytes on disk (`nexus/store/snapshot.ts`, scrub).
   */
  async destroy(path: string, versions: number[]): Promise<number[]> {
    return await this.#serially(
      path,
      () =>
        compareAndSet(this.store, metaKey(path), async (entry, tx) => {
          this.#written.delete(path); // this write does not keep it up to date
          if (!entry) throw notFound();
          return await this.#opened(path, entry.value, async ({ meta, copy: had }) => {
            const stored = versionNumbers(meta);
            const targets = versions.length === 0
              ? stored
              : [...new Set(versions.map((v) => v || meta.current))].sort((a, b) => a - b);
            if (targets.some((v) => v === 0 || !meta.versions[v])) throw notFound();
            if (targets.length === stored.length) {
              // Every data record under the path goes, including any a metadata record lost track of.
              for (const e of await this.store.list(["secret-data", path])) tx.delete(e.key);
              tx.delete(metaKey(path));
              return targets;
            }
            for (const v of targets) {
              for (let i = 0; i < chunksOf(meta.versions[v]); i++) tx.delete(dataKey(path, v, i));
              delete meta.versions[v];
            }
            if (!meta.versions[meta.current]) meta.current = live(meta).at(-1) ?? 0;
            meta.updated = Date.now();
            recomputeOldest(meta);
            const copy = await this.#copyFor(path, meta, had);
            tx.set(metaKey(path), this.#sealMeta(meta, copy));
            copy?.fill(0);
            return targets;
          });
        }, { attempts: 200, what: path }),
    );
  }

  /** Every path, sorted (deleted ones too). */
  async list(): Promise<string[]> {
    const entries = await this.store.list(["secret-meta"]);
    return entries.map((e) => String(e.key[1]));
  }

  /** A path's metadata, with the same existence rules (and `early`) as {@link get}. */
  async metadata(
    path: string,
    version: number,
    early?: Promise<StoreEntry | null>,
  ): Promise<SecretMeta> {
    const first = firstAttemptOnly(early);
    const read = await withGenerations(this.generations, () => this.#readMeta(path, first()));
    discard(read); // the values read with the metadata are not what was asked for
    const meta = read?.meta;
    if (!meta) throw notFound();
    const v = version === 0 ? meta.current : version;
    const record = meta.versions[v];
    if (v === 0 || !record || record.deleted !== null) throw notFound();
    return meta;
  }

  /**
   * Re-seals under the current generation every record of `path` that is not
   * under it: the metadata (with its copy of the current data) and the
   * version data named in `stale` (keys, as listed). One commit, checked
   * against the metadata and each record, so a concurrent write wins and the
   * path is tried again. Returns how many records were re-sealed, and the
   * stale keys no metadata names (never read, so left as they are).
   */
  async reseal(
    path: string,
    stale: readonly StoreKey[],
    isCurrent: (gen: number) => boolean,
  ): Promise<{ resealed: number; orphans: StoreKey[] }> {
    return await this.#serially(
      path,
      () =>
        compareAndSet(this.store, metaKey(path), async (entry, tx, attempt) => {
          this.#written.delete(path); // idem (a rotation's sweep: rare)
          await this.generations?.guard(tx, attempt);
          if (!entry) return { resealed: 0, orphans: [...stale] };
          return await this.#opened(path, entry.value, async ({ meta, copy: had }) => {
            const key = this.key();
            let count = 0;
            const orphans: StoreKey[] = [];
            for (const k of stale) {
              const v = Number(k[2]), chunk = Number(k[3]);
              const record = meta.versions[v];
              if (!record) orphans.push(k);
              const data: StoreEntry | null = record ? await this.store.get(k) : null;
              if (!data || isCurrent(sealedGeneration(data.value))) continue;
              const aad = dataAad(path, v, chunk, chunksOf(record));
              const values = key.open(data.value, aad);
              tx.check(k, data.versionstamp).set(k, key.seal(values, aad));
              values.fill(0);
              count++;
            }
            // Re-sealed in the joint form; a copy of a version no longer current is dropped.
            const copy = had && had.version === meta.current
              ? this.#copyValues(path, had, true)
              : null;
            tx.set(metaKey(path), this.#sealMeta(meta, copy));
            copy?.fill(0);
            return { resealed: count + 1, orphans };
          });
        }, { attempts: 200, what: path }),
    );
  }
}
