/**
 * The keyring record (`["system", "keyring"]`): which root-key generation
 * records are sealed under, and where a rotation stands. It is plain JSON of
 * generation numbers and ciphertexts only, so a Nexus without any key (a
 * restore, a replica starting) can read it:
 *
 * - `current`: the generation new records are sealed under.
 * - `state`: `stable`; `handover` (a new generation `next` exists, its
 *   shares are being handed to the Keepers, records are still sealed under
 *   `current`); `resealing` (`current` is the new generation, every Keeper
 *   holds its share, the records of older generations are being re-sealed).
 * - `checks`: one key-check record per live generation. A combined key is
 *   used only when one of them accepts it.
 * - `roots`: each live root key wrapped under another live one (during a
 *   rotation the old under the new and the new under the old), so that
 *   whichever key the Keepers give back, Nexus gets the other from the store.
 * - `cipher`: cipher sub-keys of every past generation, wrapped under the
 *   current one: cipher-service ciphertexts never die with a rotation.
 * - `points`: a threshold of shares of the Keepers' polynomial of a
 *   generation, wrapped under that generation, so that every replica hands
 *   each Keeper the very same share.
 * - `retiring` / `retired`: SHA-256 digests of every Keeper share of the
 *   generation a rotation retires, so that a restore with an old recovery
 *   share is refused with a message that names the retired generation.
 *
 * A store without this record, but with the original key-check record, is
 * at generation 1, stable (what Bootstrap makes; the record is written at the
 * first rotation).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { fromBase64, toBase64 } from "../../lib/api/json.ts";
import type { Keyring } from "../../lib/crypto/keyring.ts";
import { SHARE_LENGTH } from "../../lib/crypto/shamir.ts";
import type { StoreKey } from "../store/store.ts";

/** Where the keyring record is. */
export const KEYRING_KEY: StoreKey = ["system", "keyring"];

/** Where a rotation stands. */
export type RotationState = "stable" | "handover" | "resealing";

/** A key of generation `gen`, sealed under the wrap sub-key of generation `under`. */
export interface Wrapped {
  gen: number;
  under: number;
  sealed: string;
}

/** The digests of one generation's Keeper shares. */
export interface ShareDigests {
  gen: number;
  shares: string[];
  /** When it was retired (ms since the epoch). */
  at?: number;
}

/** The record as stored. */
export interface KeyringRecord {
  format: 1;
  current: number;
  state: RotationState;
  next: number | null;
  checks: Record<string, string>;
  roots: Wrapped[];
  cipher: Wrapped[];
  points: Wrapped[];
  retiring: ShareDigests | null;
  retired: ShareDigests[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The generation 1 record of a store that has only the original key-check record. */
export function legacyRecord(keyCheck: Uint8Array): KeyringRecord {
  return {
    format: 1,
    current: 1,
    state: "stable",
    next: null,
    checks: { "1": toBase64(keyCheck) },
    roots: [],
    cipher: [],
    points: [],
    retiring: null,
    retired: [],
  };
}

/** Bytes to store. */
export function encodeRecord(record: KeyringRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Parses a stored record; a record this Nexus does not understand stops it from using any key. */
export function decodeRecord(bytes: Uint8Array): KeyringRecord {
  const record = JSON.parse(decoder.decode(bytes)) as KeyringRecord;
  if (record.format !== 1 || !Number.isInteger(record.current) || !record.checks) {
    throw new Error(
      "the keyring record is of an unknown format; is a newer Nexus using the store?",
    );
  }
  return record;
}

/** The generation whose shares the Keepers hold (or are being given). */
export function keeperGeneration(record: KeyringRecord): number {
  return record.state === "handover" && record.next !== null ? record.next : record.current;
}

/** The generations whose keys are still needed to open records. */
export function liveGenerations(record: KeyringRecord): number[] {
  return Object.keys(record.checks).map(Number).sort((a, b) => a - b);
}

const wrapAad = (kind: string, gen: number, under: number) =>
  `spike/keyring/${kind}\u0000${gen}\u0000${under}`;

/** Seals `bytes` (a key of `gen`) under `under`'s wrap key. */
export function wrap(
  kind: "root" | "cipher" | "points",
  bytes: Uint8Array,
  gen: number,
  under: { gen: number; ring: Keyring },
): Wrapped {
  return {
    gen,
    under: under.gen,
    sealed: toBase64(under.ring.key("wrap").seal(bytes, wrapAad(kind, gen, under.gen))),
  };
}

/** Opens what {@link wrap} sealed (throws an IntegrityError when altered). */
export function unwrap(
  kind: "root" | "cipher" | "points",
  wrapped: Wrapped,
  ring: Keyring,
): Uint8Array {
  return ring.key("wrap").open(
    fromBase64(wrapped.sealed),
    wrapAad(kind, wrapped.gen, wrapped.under),
  );
}

/** Joins a polynomial's points into one byte string, for {@link wrap}. */
export function joinPoints(points: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(points.length * SHARE_LENGTH);
  points.forEach((p, i) => out.set(p, i * SHARE_LENGTH));
  return out;
}

/** Splits what {@link joinPoints} joined (and zeroes the input). */
export function splitPoints(bytes: Uint8Array): Uint8Array[] {
  const points: Uint8Array[] = [];
  for (let at = 0; at + SHARE_LENGTH <= bytes.length; at += SHARE_LENGTH) {
    points.push(bytes.slice(at, at + SHARE_LENGTH));
  }
  bytes.fill(0);
  return points;
}

/** A share's digest (SHA-256, hex): a share is 256 random bits, so this reveals nothing of it. */
export function shareDigest(share: Uint8Array): string {
  return createHash("sha256").update(share).digest("hex");
}
