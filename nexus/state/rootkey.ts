/**
 * Nexus's root key, held in memory only, and how it becomes known.
 *
 * - `waiting`: no key. Everything but recover/restore/bootstrap answers 503.
 * - `pending`: a first-ever key was combined from Keeper shares, but the store
 *   has no key-check record yet. Only Bootstrap's verify may confirm it: the
 *   challenge must decrypt under it. Then the key-check record is written.
 * - `ready`: the key passed the key-check (or was just confirmed); Nexus serves.
 *
 * A combined key is never used unless the key-check record accepts it. When
 * more shares than the threshold are at hand, every threshold-sized subset is
 * tried, and shares that disagree with the right key are named.
 *
 * After a rotation the key has generations (see `keyring_record.ts`): the
 * Keepers' shares give one live generation, the keyring record the others
 * (each wrapped under another), and every record names the generation it was
 * sealed under, so it opens under the right one. New records are sealed
 * under the record's `current` generation; a write checks the keyring
 * record's versionstamp in its commit ({@link RootKeyState.guard}), so no
 * replica can commit under a generation a rotation has moved past.
 *
 * @module
 */

import { notReady } from "../../lib/api/errors.ts";
import { fromBase64 } from "../../lib/api/json.ts";
import {
  AeadKey,
  sealedGeneration,
  type SealingKey,
  UnknownGenerationError,
} from "../../lib/crypto/aead.ts";
import { type KeyPurpose, Keyring } from "../../lib/crypto/keyring.ts";
import { combineShares, shareAt, shareIndex } from "../../lib/crypto/shamir.ts";
import type { Store, StoreEntry, StoreTransaction } from "../store/store.ts";
import type { KeeperPeer } from "../../lib/config/peers.ts";
import { configuredSet, type KeeperSet, type KeeperSetRead, readKeeperSet } from "./keeper_set.ts";
import {
  decodeRecord,
  keeperGeneration,
  KEYRING_KEY,
  type KeyringRecord,
  legacyRecord,
  shareDigest,
  splitPoints,
  unwrap,
} from "./keyring_record.ts";

/** Where the key is in its life. */
export type KeyStatus = "waiting" | "pending" | "ready";

/** What combining a set of shares came to. */
export type AdoptResult =
  | { outcome: "ready"; wrongShares: number[] }
  | { outcome: "pending" }
  | { outcome: "unchanged" }
  | { outcome: "rejected"; reason: string; suspectShares: number[] };

/** Where the key-check record is (a store without one never had a root key). */
export const KEY_CHECK_KEY = ["system", "key-check"] as const;
/** Subsets tried at most when looking for the right shares (C(n, k) grows fast). */
const MAX_SUBSETS = 1000;

function* subsets<T>(
  items: readonly T[],
  size: number,
  start = 0,
  prefix: T[] = [],
): Generator<T[]> {
  if (prefix.length === size) {
    yield prefix.slice();
    return;
  }
  for (let i = start; i <= items.length - (size - prefix.length); i++) {
    prefix.push(items[i]);
    yield* subsets(items, size, i + 1, prefix);
    prefix.pop();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The keyring record as read, with its versionstamp (null: only the original key-check). */
export interface RecordRead {
  record: KeyringRecord;
  versionstamp: string | null;
}

/** The root key's state; one per Nexus process. */
export class RootKeyState {
  #status: KeyStatus = "waiting";
  /** The live generations' keys. */
  readonly #rings = new Map<number, Keyring>();
  /** The generation new records are sealed under. */
  #current = 1;
  /** The generation whose shares the Keepers hold, and a threshold of its polynomial's points. */
  #keeperGen = 1;
  #points: Uint8Array[] = [];
  /** Cipher keys of retired generations (their ciphertexts still decrypt). */
  #oldCipher: { gen: number; key: AeadKey }[] = [];
  /** The keyring record applied last (null versionstamp: none, generation 1 only). */
  #applied: RecordRead | null = null;
  readonly #listeners = new Set<() => void>();
  readonly #lostListeners = new Set<() => void>();
  /** The configured Keeper set (in force while the store has no Keeper set record). */
  readonly #configured: KeeperSet;
  /** The Keeper set read last. */
  #keeperSet: Pick<KeeperSetRead, "set" | "next">;

  constructor(
    threshold: number,
    shareCount: number,
    /** Holds the key-check, keyring and Keeper set records. */
    readonly store: Store,
    /** The configured Keepers (default: x = 1..shareCount, unnamed). */
    peers?: readonly KeeperPeer[],
  ) {
    const all = peers ??
      Array.from({ length: shareCount }, (_, i) => ({ index: i + 1, url: `#${i + 1}` }));
    this.#configured = configuredSet(all, shareCount, threshold);
    this.#keeperSet = { set: this.#configured, next: null };
  }

  /** Shares it takes to give the key: the threshold of the Keeper set in force (read last). */
  get threshold(): number {
    return this.#keeperSet.set.threshold;
  }

  /** The Keeper set in force, as read last. */
  get keeperSet(): KeeperSet {
    return this.#keeperSet.set;
  }

  /** The Keeper set now in the store (the configured one without a record); remembered. */
  async readKeeperSet(): Promise<KeeperSetRead> {
    const read = await readKeeperSet(this.store, this.#configured);
    this.#keeperSet = read;
    return read;
  }

  /** Where the key is. */
  get status(): KeyStatus {
    return this.#status;
  }

  /** The generation new records are sealed under (0 while no key is known). */
  get generation(): number {
    return this.#status === "ready" ? this.#current : 0;
  }

  /**
   * The sub-key for `purpose`, the one way to get a key: from the ready key;
   * Bootstrap's verify key also from a pending one (that is how a first key
   * is confirmed, and nothing else may use a pending key). A 503 otherwise.
   * It is the current generation's key.
   */
  key(purpose: KeyPurpose): AeadKey {
    const usable = this.#status === "ready" ||
      (this.#status === "pending" && purpose === "bootstrap-verify");
    const ring = this.#rings.get(this.#current);
    if (!usable || !ring) throw notReady();
    return ring.key(purpose);
  }

  /**
   * Seals under the current generation and opens records of any live one
   * (an {@link UnknownGenerationError} for a generation not learned yet:
   * {@link refresh}, then try again). A 503 without a ready key.
   */
  sealing(purpose: KeyPurpose): SealingKey {
    if (this.#status !== "ready") throw notReady();
    return {
      seal: (plaintext, aad) =>
        this.#ring(this.#current).key(purpose).seal(plaintext, aad, this.#current),
      open: (sealed, aad) => this.#ring(sealedGeneration(sealed)).key(purpose).open(sealed, aad),
    };
  }

  #ring(gen: number): Keyring {
    if (this.#status !== "ready") throw notReady();
    const ring = this.#rings.get(gen);
    if (!ring) throw new UnknownGenerationError(gen);
    return ring;
  }

  /** The live generation's key ring (for the rotation, which wraps keys under each other). */
  ring(gen: number): Keyring | undefined {
    return this.#status === "ready" ? this.#rings.get(gen) : undefined;
  }

  /** Copies of the Keepers' polynomial's points (for the rotation's digests of retired shares). */
  points(): Uint8Array[] {
    return this.#points.map((p) => p.slice());
  }

  /** Every cipher key that may have made a ciphertext: the current one first, then newest first. */
  cipherKeys(): AeadKey[] {
    if (this.#status !== "ready") throw notReady();
    const live = [...this.#rings.keys()].sort((a, b) =>
      a === this.#current ? -1 : b === this.#current ? 1 : b - a
    );
    return [
      ...live.map((gen) => this.#rings.get(gen)!.key("cipher")),
      ...this.#oldCipher.filter((c) => !this.#rings.has(c.gen)).map((c) => c.key),
    ];
  }

  /** Calls `listener` each time the key becomes ready. */
  onReady(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #readKeyCheck(): Promise<Uint8Array | null> {
    return (await this.store.get(KEY_CHECK_KEY))?.value ?? null;
  }

  /**
   * The keyring record now in the store: the stored one, or generation 1 made
   * from the original key-check record; null when the store never had a key.
   */
  async readRecord(): Promise<RecordRead | null> {
    return await this.#recordFrom(await this.store.get(KEYRING_KEY));
  }

  /** {@link readRecord}, given what the store holds at the keyring record's key. */
  async #recordFrom(entry: StoreEntry | null): Promise<RecordRead | null> {
    if (entry) return { record: decodeRecord(entry.value), versionstamp: entry.versionstamp };
    const check = await this.#readKeyCheck();
    return check ? { record: legacyRecord(check), versionstamp: null } : null;
  }

  /** True when the store holds a key-check or keyring record: a root key was set up before. */
  async initialized(): Promise<boolean> {
    return (await this.readRecord()) !== null;
  }

  /**
   * Learns the keyring record again when another process changed it (a
   * rotation): new generations are unwrapped, retired ones forgotten.
   */
  async refresh(): Promise<void> {
    if (this.#status !== "ready") return;
    const entry = await this.store.get(KEYRING_KEY);
    // Still the record applied last (the common case, at every cipher call): nothing to
    // decode. Still none, and generation 1 came from the key-check record, which is written
    // once before any key is ready: nothing more to read.
    if ((entry?.versionstamp ?? null) === this.#applied?.versionstamp) return;
    const read = await this.#recordFrom(entry);
    if (!read) return;
    // Reads may finish out of order: never go back to an older record.
    if (this.#applied?.versionstamp && read.versionstamp! < this.#applied.versionstamp) return;
    this.#apply(read, this.#points);
  }

  /**
   * {@link refresh} for routes that touch no record (status, cipher): another
   * replica's rotation is learned now rather than at this process's next write
   * or Keeper update. A store that does not answer leaves the keys held as they
   * are (those routes still answer from memory); a record showing that this
   * process holds only retired keys drops them (the route then answers 503).
   */
  async learnLatest(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      // Either the store is unreachable (keep serving what is held) or the keys were dropped,
      // which the status says and `key()` refuses: nothing else to do here.
    }
  }

  /**
   * Makes `tx` (a write that seals with {@link sealing}) fail unless the
   * keyring record is still the one this process seals by. A first attempt
   * (`attempt` 0) trusts the record held, as a rotation elsewhere is rare and
   * the check makes a stale record fail the commit; a later attempt learns the
   * latest record first, so the write is tried again under the new generation.
   */
  async guard(tx: StoreTransaction, attempt: number): Promise<void> {
    if (attempt > 0) await this.refresh();
    tx.check(KEYRING_KEY, this.#applied?.versionstamp ?? null);
  }

  /**
   * Takes `read` as the truth: unwraps every generation reachable from the
   * keys held, forgets retired ones, and takes the Keepers' polynomial from
   * the record (or `fallbackPoints`, the shares the key came from, when the
   * record has none for the Keepers' generation: generation 1).
   */
  #apply(read: RecordRead, fallbackPoints: Uint8Array[]): void {
    const { record } = read;
    for (let progress = true; progress;) {
      progress = false;
      for (const w of record.roots) {
        const under = this.#rings.get(w.under);
        const check = record.checks[String(w.gen)];
        if (this.#rings.has(w.gen) || !under || !check) continue;
        const raw = unwrap("root", w, under);
        const ring = new Keyring(raw);
        raw.fill(0);
        if (!ring.verifyKeyCheck(fromBase64(check))) {
          ring.destroy();
          throw new Error(`the keyring record's generation ${w.gen} fails its key check`);
        }
        this.#rings.set(w.gen, ring);
        progress = true;
      }
    }
    for (const [gen, ring] of this.#rings) {
      if (record.checks[String(gen)] === undefined) {
        ring.destroy();
        this.#rings.delete(gen);
      }
    }
    if (!this.#rings.has(record.current)) {
      // A rotation finished while this process looked away: the Keepers hold the new key.
      this.#forget();
      throw notReady();
    }
    for (const w of record.cipher) {
      const under = this.#rings.get(w.under);
      if (!under || this.#oldCipher.some((c) => c.gen === w.gen)) continue;
      const raw = unwrap("cipher", w, under);
      this.#oldCipher.push({ gen: w.gen, key: new AeadKey(raw) });
      raw.fill(0);
    }
    this.#oldCipher.sort((a, b) => b.gen - a.gen);
    const keeperGen = keeperGeneration(record);
    const stored = record.points.find((p) => p.gen === keeperGen && this.#rings.has(p.under));
    const points = stored
      ? splitPoints(unwrap("points", stored, this.#rings.get(stored.under)!))
      : fallbackPoints;
    for (const p of this.#points) if (!points.includes(p)) p.fill(0);
    this.#points = points;
    this.#keeperGen = keeperGen;
    this.#current = record.current;
    this.#applied = read;
  }

  /**
   * Drops every key and waits for the Keepers again: this process holds only
   * generations a rotation (by another replica) has retired, and the new one
   * can be had only from the Keepers, which hold it before any old key goes.
   */
  #forget(): void {
    for (const ring of this.#rings.values()) ring.destroy();
    this.#rings.clear();
    for (const p of this.#points) p.fill(0);
    this.#points = [];
    for (const c of this.#oldCipher) c.key.destroy();
    this.#oldCipher = [];
    this.#applied = null;
    this.#status = "waiting";
    for (const listener of [...this.#lostListeners]) listener();
  }

  /** Calls `listener` each time the key is dropped to be recovered again (see {@link refresh}). */
  onLost(listener: () => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  #become(status: "pending" | "ready", keyring: Keyring, points: Uint8Array[]): void {
    for (const ring of this.#rings.values()) if (ring !== keyring) ring.destroy();
    this.#rings.clear();
    this.#rings.set(1, keyring);
    for (const p of this.#points) if (!points.includes(p)) p.fill(0);
    this.#points = points;
    this.#current = 1;
    this.#keeperGen = 1;
    this.#status = status;
    if (status === "ready") this.#ready();
  }

  #ready(): void {
    this.#status = "ready";
    for (const listener of [...this.#listeners]) listener();
  }

  /** For the memory backend: a random key of this process only, ready at once, no shares. */
  useRandomKey(): void {
    const key = crypto.getRandomValues(new Uint8Array(32));
    this.#become("ready", new Keyring(key), []);
    key.fill(0);
  }

  /**
   * Tries to learn the key from shares (index to share). With a key-check
   * record, the first threshold-sized subset that passes it wins, and shares
   * that disagree with it are reported. Without one, shares from Keepers make
   * a pending key, while shares from an operator restore are trusted and
   * written as the first key-check.
   */
  async adopt(
    shares: ReadonlyMap<number, Uint8Array>,
    origin: "keepers" | "restore",
  ): Promise<AdoptResult> {
    if (this.#status === "ready") return { outcome: "unchanged" };
    const all = [...shares.values()].sort((a, b) => shareIndex(a) - shareIndex(b));
    const sets = await this.readKeeperSet();
    // During a rekey the Keepers may hold shares of either polynomial: try both thresholds.
    const thresholds = [...new Set([sets.set.threshold, sets.next?.threshold ?? Infinity])]
      .filter((t) => t <= all.length);
    if (thresholds.length === 0) {
      return { outcome: "rejected", reason: "not enough shares", suspectShares: [] };
    }
    const read = await this.readRecord();
    if (read) return await this.#adoptChecked(all, read, thresholds, sets.next === null);
    return await this.#adoptFirst(all, origin);
  }

  async #adoptChecked(
    all: Uint8Array[],
    read: RecordRead,
    thresholds: number[],
    stableSet: boolean,
  ): Promise<AdoptResult> {
    const { record } = read;
    let tried = 0;
    const candidates = function* () {
      for (const t of thresholds) yield* subsets(all, t);
    };
    for (const subset of candidates()) {
      if (++tried > MAX_SUBSETS) break;
      const key = await combineShares(subset);
      const keyring = new Keyring(key);
      key.fill(0);
      const gen = this.#generationOf(keyring, record);
      if (gen === undefined) {
        keyring.destroy();
        continue;
      }
      const wrongShares: number[] = [];
      // During a rotation some Keepers may still hold the other generation's share: not a fault.
      for (const share of record.state === "stable" && stableSet ? all : []) {
        if (subset.includes(share)) continue;
        if (!equalBytes(await shareAt(subset, shareIndex(share)), share)) {
          wrongShares.push(shareIndex(share));
        }
      }
      this.#readyAs(gen, keyring, read, subset.map((s) => s.slice()));
      return { outcome: "ready", wrongShares };
    }
    return {
      outcome: "rejected",
      reason: "no set of shares gives the root key that the stored key-check record was made with",
      suspectShares: all.map(shareIndex),
    };
  }

  /** The live generation of `record` whose key-check `keyring` passes, if any. */
  #generationOf(keyring: Keyring, record: KeyringRecord): number | undefined {
    const gen = Object.entries(record.checks)
      .find(([, check]) => keyring.verifyKeyCheck(fromBase64(check)))?.[0];
    return gen === undefined ? undefined : Number(gen);
  }

  /** Serves `keyring` as generation `gen` of `read`, the record that names its other keys. */
  #readyAs(gen: number, keyring: Keyring, read: RecordRead, points: Uint8Array[]): void {
    for (const ring of this.#rings.values()) if (ring !== keyring) ring.destroy();
    this.#rings.clear();
    this.#rings.set(gen, keyring);
    this.#apply(read, points);
    this.#ready();
  }

  /**
   * The generation of the Keeper set a rekey replaced that `share` belongs
   * to, or null (it is no replaced set's share).
   */
  async replacedSet(share: Uint8Array): Promise<number | null> {
    const { record } = await this.readKeeperSet();
    const digest = shareDigest(share);
    return record?.replaced.find((r) => r.shares.includes(digest))?.gen ?? null;
  }

  /** The generation a rotation retired `share` with, or null (it is no retired key's share). */
  async retiredGeneration(share: Uint8Array): Promise<number | null> {
    const read = await this.readRecord();
    const digest = shareDigest(share);
    return read?.record.retired.find((r) => r.shares.includes(digest))?.gen ?? null;
  }

  async #adoptFirst(all: Uint8Array[], origin: "keepers" | "restore"): Promise<AdoptResult> {
    const base = all.slice(0, this.threshold);
    // Without a key-check, extra shares can only be checked for agreement with each other.
    const disagree: number[] = [];
    for (const share of all.slice(this.threshold)) {
      if (!equalBytes(await shareAt(base, shareIndex(share)), share)) {
        disagree.push(shareIndex(share));
      }
    }
    if (disagree.length > 0) {
      return {
        outcome: "rejected",
        reason: "the shares do not agree with each other, and there is no key-check record yet " +
          "to tell which are right",
        suspectShares: all.map(shareIndex),
      };
    }
    const key = await combineShares(base);
    const keyring = new Keyring(key);
    key.fill(0);
    const points = base.map((s) => s.slice());
    if (origin === "restore") {
      await this.#writeKeyCheck(keyring);
      this.#become("ready", keyring, points);
      return { outcome: "ready", wrongShares: [] };
    }
    if (this.#status === "pending" && this.#sameKey(keyring)) {
      keyring.destroy();
      return { outcome: "unchanged" };
    }
    this.#become("pending", keyring, points);
    return { outcome: "pending" };
  }

  #sameKey(keyring: Keyring): boolean {
    const probe = keyring.makeKeyCheck();
    return this.#rings.get(1)?.verifyKeyCheck(probe) ?? false;
  }

  /**
   * Confirms the pending key (Bootstrap proved it holds the same key): writes
   * the key-check record, unless one appeared meanwhile that disagrees. When
   * the store holds a keyring record instead (a restored backup of a rotated
   * store), the pending key must pass its current generation's key check.
   */
  async confirmPending(): Promise<boolean> {
    const keyring = this.#rings.get(1);
    if (this.#status !== "pending" || !keyring) return this.#status === "ready";
    // The Keepers' shares may be adopted while this waits on the store (a restore has just
    // written the key check they are checked against): their outcome then stands, and the
    // pending keyring, replaced and destroyed, is not used.
    const settled = () => this.#status !== "pending" || this.#rings.get(1) !== keyring;
    // A restored backup of a rotated store brought a keyring record: the pending key must be
    // the generation it names (it then names every other key), and no key-check is written.
    const read = await this.readRecord();
    if (settled()) return this.status === "ready";
    if (read && read.versionstamp !== null) {
      const gen = this.#generationOf(keyring, read.record);
      if (gen === undefined || gen !== read.record.current) return false;
      this.#readyAs(gen, keyring, read, this.#points);
      return true;
    }
    const stored = await this.#writeKeyCheck(keyring);
    if (settled()) return this.status === "ready";
    if (!keyring.verifyKeyCheck(stored)) return false;
    this.#become("ready", keyring, this.#points);
    return true;
  }

  /** Creates the key-check record if absent; returns the record stored now. */
  async #writeKeyCheck(keyring: Keyring): Promise<Uint8Array> {
    const record = keyring.makeKeyCheck();
    const { ok } = await this.store.atomic().check(KEY_CHECK_KEY, null).set(KEY_CHECK_KEY, record)
      .commit();
    if (ok) return record;
    return (await this.#readKeyCheck())!;
  }

  /**
   * True when `record` is a key-check record made with the key held now,
   * ready or pending (a backup's key check, before its records are loaded).
   */
  acceptsKeyCheck(record: Uint8Array): boolean {
    const ring = this.#rings.get(this.#current);
    if (this.#status === "waiting" || !ring) return false;
    return ring.verifyKeyCheck(record);
  }

  /** True when `share` is, at its index, a share of the key in use (false without a ready key). */
  async isShareOfKey(share: Uint8Array): Promise<boolean> {
    if (this.#status !== "ready") return false;
    return equalBytes(await shareAt(this.#points, shareIndex(share)), share);
  }

  /**
   * The share of every Keeper of the set in force (at its x) of the generation
   * the Keepers hold (during a rotation's handover: the new one), derived
   * afresh; the caller zeroes them.
   */
  async shares(): Promise<Uint8Array[]> {
    return await this.sharesAt(this.#keeperSet.set.peers.map((p) => p.index));
  }

  /** The shares at `xs` of the polynomial the Keepers hold; the caller zeroes them. */
  async sharesAt(xs: readonly number[]): Promise<Uint8Array[]> {
    if (this.#status !== "ready") throw new Error("the root key is not known");
    const out: Uint8Array[] = [];
    for (const x of xs) out.push(await shareAt(this.#points, x));
    return out;
  }
}
