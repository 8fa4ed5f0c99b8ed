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
 * @module
 */

import { notReady } from "../../lib/api/errors.ts";
import type { AeadKey } from "../../lib/crypto/aead.ts";
import { type KeyPurpose, Keyring } from "../../lib/crypto/keyring.ts";
import { combineShares, shareAt, shareIndex, sharesFor } from "../../lib/crypto/shamir.ts";
import type { Store } from "../store/store.ts";

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

/** The root key's state; one per Nexus process. */
export class RootKeyState {
  #status: KeyStatus = "waiting";
  #keyring: Keyring | undefined;
  /** Threshold-many shares of the key's polynomial: every Keeper's share derives from them. */
  #points: Uint8Array[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly threshold: number,
    readonly shareCount: number,
    /** Holds the key-check record. */
    readonly store: Store,
  ) {}

  /** Where the key is. */
  get status(): KeyStatus {
    return this.#status;
  }

  /**
   * The sub-key for `purpose`, the one way to get a key: from the ready key;
   * Bootstrap's verify key also from a pending one (that is how a first key
   * is confirmed, and nothing else may use a pending key). A 503 otherwise.
   */
  key(purpose: KeyPurpose): AeadKey {
    const usable = this.#status === "ready" ||
      (this.#status === "pending" && purpose === "bootstrap-verify");
    if (!usable || !this.#keyring) throw notReady();
    return this.#keyring.key(purpose);
  }

  /** Calls `listener` each time the key becomes ready. */
  onReady(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #readKeyCheck(): Promise<Uint8Array | null> {
    return (await this.store.get(KEY_CHECK_KEY))?.value ?? null;
  }

  /** True when the store holds a key-check record: a root key was set up before. */
  async initialized(): Promise<boolean> {
    return (await this.#readKeyCheck()) !== null;
  }

  #become(status: "pending" | "ready", keyring: Keyring, points: Uint8Array[]): void {
    if (this.#keyring && this.#keyring !== keyring) this.#keyring.destroy();
    for (const p of this.#points) if (!points.includes(p)) p.fill(0);
    this.#keyring = keyring;
    this.#points = points;
    this.#status = status;
    if (status === "ready") { for (const listener of [...this.#listeners]) listener(); }
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
    if (all.length < this.threshold) {
      return { outcome: "rejected", reason: "not enough shares", suspectShares: [] };
    }
    const check = await this.#readKeyCheck();
    if (check) return await this.#adoptChecked(all, check);
    return await this.#adoptFirst(all, origin);
  }

  async #adoptChecked(all: Uint8Array[], check: Uint8Array): Promise<AdoptResult> {
    let tried = 0;
    for (const subset of subsets(all, this.threshold)) {
      if (++tried > MAX_SUBSETS) break;
      const key = await combineShares(subset);
      const keyring = new Keyring(key);
      key.fill(0);
      if (!keyring.verifyKeyCheck(check)) {
        keyring.destroy();
        continue;
      }
      const wrongShares: number[] = [];
      for (const share of all) {
        if (subset.includes(share)) continue;
        if (!equalBytes(await shareAt(subset, shareIndex(share)), share)) {
          wrongShares.push(shareIndex(share));
        }
      }
      this.#become("ready", keyring, subset.map((s) => s.slice()));
      return { outcome: "ready", wrongShares };
    }
    return {
      outcome: "rejected",
      reason: "no set of shares gives the root key that the stored key-check record was made with",
      suspectShares: all.map(shareIndex),
    };
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
    return this.#keyring?.verifyKeyCheck(probe) ?? false;
  }

  /**
   * Confirms the pending key (Bootstrap proved it holds the same key): writes
   * the key-check record, unless one appeared meanwhile that disagrees.
   */
  async confirmPending(): Promise<boolean> {
    if (this.#status !== "pending" || !this.#keyring) return this.#status === "ready";
    const keyring = this.#keyring;
    const stored = await this.#writeKeyCheck(keyring);
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
    if (this.#status === "waiting" || !this.#keyring) return false;
    return this.#keyring.verifyKeyCheck(record);
  }

  /** True when `share` is, at its index, a share of the key in use (false without a ready key). */
  async isShareOfKey(share: Uint8Array): Promise<boolean> {
    if (this.#status !== "ready") return false;
    return equalBytes(await shareAt(this.#points, shareIndex(share)), share);
  }

  /** Every Keeper's share (x = 1..n), derived afresh; the caller zeroes them after use. */
  async shares(): Promise<Uint8Array[]> {
    if (this.#status !== "ready") throw new Error("the root key is not known");
    return await sharesFor(this.#points, this.shareCount);
  }
}
