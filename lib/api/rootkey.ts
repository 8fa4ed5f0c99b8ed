/**
 * The contract of the root-key routes: Keeper contribute and shard, Nexus
 * operator recover and restore, and bootstrap verify. Shares travel as arrays
 * of 33 numbers (32 value bytes, then the index), as `lib/crypto/shamir.ts`
 * makes them.
 *
 * @module
 */

import { invalid } from "./errors.ts";
import {
  base64Field,
  byteArrayField,
  intField,
  type JsonObject,
  stringField,
  toBase64,
} from "./json.ts";
import { MAX_SHARES, SHARE_LENGTH, shareIndex } from "../crypto/shamir.ts";

/** `POST /v1/store/contribute` body. */
export interface ContributeRequest {
  shard: number[];
}

/** `POST /v1/store/shard` success body. `Err` is capitalised, as upstream. */
export interface ShardResponse {
  shard: number[] | null;
  Err: string;
}

/** `POST /v1/operator/recover` success body: every share by its index. */
export interface RecoverResponse {
  shards: Record<string, number[]>;
}

/** `POST /v1/operator/restore` body. */
export interface RestoreRequest {
  id: number;
  shard: number[];
}

/** `POST /v1/operator/restore` success body. */
export interface RestoreResponse {
  collected: number;
  remaining: number;
  restored: boolean;
  /**
   * Ours: set when the share was refused because it belongs to this root-key
   * generation, which a rotation retired (the share is not counted). Error
   * bodies carry codes only, so the refusal is said here.
   */
  retiredGeneration?: number;
  /** Ours: set when the share was refused because a rekey replaced its Keeper set's shares. */
  replacedByRekey?: boolean;
}

/** `POST /v1/bootstrap/verify` body. */
export interface VerifyRequest {
  nonce: string;
  ciphertext: string;
}

/** `POST /v1/bootstrap/verify` success body: SHA-256 of the plaintext, lowercase hex. */
export interface VerifyResponse {
  hash: string;
}

/** `POST /v1/bootstrap/state` success body (an extension of ours, Bootstrap only). */
export interface BootstrapStateResponse {
  /** True when Nexus's store already holds a root key's key-check record (and so maybe data). */
  initialized: boolean;
  /**
   * True when Nexus holds that key now and serves. Initialized but not ready:
   * the data is there, the key is not (start the Keepers, or restore it).
   * Absent from older Nexus versions.
   */
  ready?: boolean;
}

/** Nonce length of bootstrap verify (AES-GCM). */
export const VERIFY_NONCE_LENGTH = 12;

function isAllZero(bytes: Uint8Array): boolean {
  return bytes.subarray(0, bytes.length - 1).every((b) => b === 0);
}

/** A share on the wire, checked: 33 numbers, index 1..255, value not all zero. */
export function parseShareField(obj: JsonObject, name = "shard"): Uint8Array {
  const share = byteArrayField(obj, name, SHARE_LENGTH);
  if (share === null) throw invalid(name, "required", undefined, `"${name}" is required`);
  if (isAllZero(share)) throw invalid(name, "required", undefined, `"${name}" is empty`);
  const index = shareIndex(share);
  if (index < 1 || index > MAX_SHARES) {
    throw invalid(name, "range", `1 to ${MAX_SHARES}`, `"${name}" has no valid index`);
  }
  return share;
}

/** A share as the wire carries it. */
export function shareToWire(share: Uint8Array): number[] {
  return Array.from(share);
}

/** Parses and checks a restore request; the id must be the share's own index. */
export function parseRestoreRequest(obj: JsonObject): { id: number; share: Uint8Array } {
  const id = intField(obj, "id", { min: 1, max: MAX_SHARES });
  const share = parseShareField(obj);
  if (shareIndex(share) !== id) {
    throw invalid("id", "mismatch", undefined, '"id" is not the index of "shard"');
  }
  return { id, share };
}

/** Parses a verify request: a 12-byte nonce and a ciphertext within `maxCiphertext`. */
export function parseVerifyRequest(
  obj: JsonObject,
  maxCiphertext: number,
): { nonce: Uint8Array; ciphertext: Uint8Array } {
  stringField(obj, "nonce");
  stringField(obj, "ciphertext");
  const nonce = base64Field(obj, "nonce");
  const ciphertext = base64Field(obj, "ciphertext");
  if (nonce.length !== VERIFY_NONCE_LENGTH) {
    throw invalid("nonce", "length", VERIFY_NONCE_LENGTH, '"nonce" must be 12 bytes');
  }
  if (ciphertext.length === 0 || ciphertext.length > maxCiphertext) {
    throw invalid("ciphertext", "size", maxCiphertext, '"ciphertext" is empty or too large');
  }
  return { nonce, ciphertext };
}

/** Builds a verify request body. */
export function verifyRequest(nonce: Uint8Array, ciphertext: Uint8Array): VerifyRequest {
  return { nonce: toBase64(nonce), ciphertext: toBase64(ciphertext) };
}
