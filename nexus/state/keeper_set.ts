/**
 * The Keeper set record (`["system", "keeper-set"]`): which Keepers hold a
 * share of the root key, at which x coordinate, and how many of them it
 * takes. `spike operator rekey` writes it; without it the configuration
 * applies (the first `SPIKE_NEXUS_SHAMIR_SHARES` Keepers of
 * `SPIKE_NEXUS_KEEPER_PEERS`, Keeper i at x = i). It holds URLs, counts,
 * digests and one wrapped polynomial only, so a Nexus without a key can read
 * it (recovery must know whom to ask).
 *
 * - `stable`: `set` is in force.
 * - `rekeying`: a rekey is handing `next` its new shares (`nextPoints`, a
 *   threshold of the new polynomial's points, wrapped under the generation in
 *   use). Until it commits, some Keepers may hold an old share and some a new
 *   one, so recovery asks both sets and tries both thresholds; the rekey only
 *   rolls forward (any Nexus holding the key finishes it).
 *
 * A Keeper keeps its x coordinate from one set to the next, and new Keepers
 * get x coordinates no Keeper of the set in force uses. `replaced` keeps the
 * digests of the shares of every polynomial a rekey replaced, so a restore
 * with an old recovery share is refused by name.
 *
 * @module
 */

import type { KeeperPeer } from "../../lib/config/peers.ts";
import { MAX_SHARES, validateShareCounts } from "../../lib/crypto/shamir.ts";
import type { Store, StoreKey } from "../store/store.ts";
import type { ShareDigests, Wrapped } from "./keyring_record.ts";

/** Where the Keeper set record is. */
export const KEEPER_SET_KEY: StoreKey = ["system", "keeper-set"];

/** Keepers (each with its x coordinate as `index`) and how many of them give the key. */
export interface KeeperSet {
  peers: KeeperPeer[];
  threshold: number;
}

/** The record as stored. */
export interface KeeperSetRecord {
  format: 1;
  state: "stable" | "rekeying";
  set: KeeperSet;
  next: KeeperSet | null;
  nextPoints: Wrapped | null;
  /** Digests of the set in force's shares, while a rekey replaces them. */
  replacing: ShareDigests | null;
  /** Digests of the shares of every polynomial a rekey replaced (with their generation). */
  replaced: ShareDigests[];
  /** When it was written (ms since the epoch). */
  at: number;
}

/** The Keeper set as read from the store, with its versionstamp (null: none stored). */
export interface KeeperSetRead {
  record: KeeperSetRecord | null;
  versionstamp: string | null;
  /** The set in force. */
  set: KeeperSet;
  /** During a rekey, the set being handed its shares. */
  next: KeeperSet | null;
}

/** A rekey request that cannot be carried out (a 400 with this message). */
export class KeeperSetError extends Error {}

/** The set the configuration gives: the first `shares` Keepers, Keeper i at x = i. */
export function configuredSet(
  peers: readonly KeeperPeer[],
  shares: number,
  threshold: number,
): KeeperSet {
  return { peers: peers.slice(0, shares).map((p) => ({ ...p })), threshold };
}

/** Reads the record; without one, `fallback` (the configured set) is in force. */
export async function readKeeperSet(store: Store, fallback: KeeperSet): Promise<KeeperSetRead> {
  const entry = await store.get(KEEPER_SET_KEY);
  if (!entry) return { record: null, versionstamp: null, set: fallback, next: null };
  const record = decodeKeeperSet(entry.value);
  return { record, versionstamp: entry.versionstamp, set: record.set, next: record.next };
}

/**
 * The new set a rekey hands shares to: `urls` (default: every configured
 * Keeper), each of them configured (Nexus may dial only those), `shares` of
 * them. Keepers of `current` keep their x; others get unused ones.
 */
export function planSet(
  configured: readonly KeeperPeer[],
  current: KeeperSet,
  urls: readonly string[] | undefined,
  shares: number,
  threshold: number,
): KeeperSet {
  try {
    validateShareCounts(shares, threshold);
  } catch (e) {
    throw new KeeperSetError((e as Error).message);
  }
  const chosen = (urls ?? configured.map((p) => p.url)).map((u) => u.replace(/\/+$/, ""));
  const twice = chosen.find((u, i) => chosen.indexOf(u) !== i);
  if (twice) throw new KeeperSetError(`${twice} is listed twice`);
  for (const url of chosen) {
    if (!configured.some((p) => p.url === url)) {
      throw new KeeperSetError(
        `${url} is not in SPIKE_NEXUS_KEEPER_PEERS (Nexus may reach only the Keepers listed ` +
          "there: add it and restart Nexus first)",
      );
    }
  }
  if (chosen.length !== shares) {
    throw new KeeperSetError(
      `${shares} shares need ${shares} Keepers, but ${chosen.length} ${
        urls ? "are given" : "are configured"
      }`,
    );
  }
  const used = new Set(current.peers.map((p) => p.index));
  const peers: KeeperPeer[] = [];
  let free = 1;
  for (const url of chosen) {
    const kept = current.peers.find((p) => p.url === url);
    if (kept) {
      peers.push({ index: kept.index, url });
      continue;
    }
    while (used.has(free)) free++;
    if (free > MAX_SHARES) throw new KeeperSetError("no x coordinate is left for a new Keeper");
    used.add(free);
    peers.push({ index: free, url });
  }
  peers.sort((a, b) => a.index - b.index);
  return { peers, threshold };
}

/**
 * Refuses a rekey that a crash could leave with neither set able to give the
 * key. The rekey first hands the new Keepers their shares, then overwrites
 * the Keepers of both sets (in any order): at every count of those
 * overwritten, either `oldHolders` (Keepers of `from` now holding a correct
 * share) minus the overwritten must reach `from`'s threshold, or the new
 * Keepers plus the overwritten must reach `to`'s.
 */
export function checkCrashSafe(from: KeeperSet, to: KeeperSet, oldHolders: number): void {
  const kept = to.peers.filter((p) => from.peers.some((q) => q.url === p.url)).length;
  const added = to.peers.length - kept;
  for (let k = 0; k <= kept; k++) {
    if (oldHolders - k >= from.threshold || added + k >= to.threshold) continue;
    throw new KeeperSetError(
      `a crash in the middle of this rekey could leave neither ${from.threshold} old nor ` +
        `${to.threshold} new shares on the Keepers; add a new Keeper to the set, or rekey ` +
        "in two steps (first to more Keepers, then to the threshold you want)",
    );
  }
}

/** The Keepers recovery asks: the set in force, and during a rekey the new set too. */
export function recoveryPeers(read: Pick<KeeperSetRead, "set" | "next">): KeeperPeer[] {
  const out = new Map<string, KeeperPeer>();
  for (const set of [read.set, ...(read.next ? [read.next] : [])]) {
    for (const p of set.peers) out.set(p.url, p);
  }
  return [...out.values()].sort((a, b) => a.index - b.index);
}

/** Bytes to store. */
export function encodeKeeperSet(record: KeeperSetRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

function validSet(set: KeeperSet | null | undefined): boolean {
  return !!set && Array.isArray(set.peers) && set.peers.length >= 2 &&
    Number.isInteger(set.threshold) && set.threshold >= 2 &&
    set.threshold <= set.peers.length &&
    new Set(set.peers.map((p) => p.index)).size === set.peers.length &&
    set.peers.every((p) =>
      typeof p.url === "string" && Number.isInteger(p.index) && p.index >= 1 &&
      p.index <= MAX_SHARES
    );
}

/** Parses a stored record; one this Nexus does not understand stops it from using any Keeper. */
export function decodeKeeperSet(bytes: Uint8Array): KeeperSetRecord {
  const record = JSON.parse(new TextDecoder().decode(bytes)) as KeeperSetRecord;
  const ok = record.format === 1 && validSet(record.set) && Array.isArray(record.replaced) &&
    ((record.state === "stable" && record.next === null) ||
      (record.state === "rekeying" && validSet(record.next) && record.nextPoints !== null));
  if (!ok) {
    throw new Error("the Keeper set record is of an unknown format; is a newer Nexus using it?");
  }
  return record;
}
