/**
 * Sub-keys of the root key, one per purpose, derived with HKDF-SHA-256, and
 * the key-check record that proves a combined root key is the right one
 * before anything is decrypted or written with it.
 *
 * @module
 */

import { hkdfSync, timingSafeEqual } from "node:crypto";
import { AeadKey, IntegrityError } from "./aead.ts";
import { ROOT_KEY_LENGTH } from "./shamir.ts";

/** What a sub-key is for; each gets its own key. */
export type KeyPurpose =
  | "secrets"
  | "policies"
  | "cipher"
  | "key-check"
  | "bootstrap-verify"
  /** Seals other root-key generations, old cipher keys and Keeper polynomials in the keyring record. */
  | "wrap";

const PURPOSES: readonly KeyPurpose[] = [
  "secrets",
  "policies",
  "cipher",
  "key-check",
  "bootstrap-verify",
  "wrap",
];
const SALT = new TextEncoder().encode("spike-deno/root-key/v1");
const KEY_CHECK_AAD = "spike/key-check/v1";
const KEY_CHECK_PLAINTEXT = new TextEncoder().encode("SPIKE root key check v1");

/** Derives the sub-key for `purpose`. */
export function deriveKey(rootKey: Uint8Array, purpose: KeyPurpose): Uint8Array {
  if (rootKey.length !== ROOT_KEY_LENGTH) {
    throw new Error(`the root key is ${ROOT_KEY_LENGTH} bytes (got ${rootKey.length})`);
  }
  return new Uint8Array(hkdfSync("sha256", rootKey, SALT, `spike/${purpose}`, 32));
}

/** Associated data of the bootstrap verify challenge. */
export const BOOTSTRAP_VERIFY_AAD = "spike/bootstrap-verify/v1";

/** The sub-keys of one root key. */
export class Keyring {
  readonly #keys = new Map<KeyPurpose, AeadKey>();
  /** Kept only so that a rotation can wrap this key under its successor (and back). */
  readonly #root: Uint8Array;

  constructor(rootKey: Uint8Array) {
    this.#root = rootKey.slice();
    for (const purpose of PURPOSES) {
      const raw = deriveKey(rootKey, purpose);
      this.#keys.set(purpose, new AeadKey(raw));
      raw.fill(0);
    }
  }

  /** The key for a purpose. */
  key(purpose: KeyPurpose): AeadKey {
    return this.#keys.get(purpose)!;
  }

  /** A new key-check record for this root key (store it once, when the key is first known). */
  makeKeyCheck(): Uint8Array {
    return this.key("key-check").seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD);
  }

  /** True when `record` was made by {@link makeKeyCheck} under this same root key. */
  verifyKeyCheck(record: Uint8Array): boolean {
    try {
      const plain = this.key("key-check").open(record, KEY_CHECK_AAD);
      return plain.length === KEY_CHECK_PLAINTEXT.length &&
        timingSafeEqual(plain, KEY_CHECK_PLAINTEXT);
    } catch (e) {
      if (e instanceof IntegrityError) return false;
      throw e;
    }
  }

  /** A copy of the root key (the caller zeroes it): for wrapping it under another generation. */
  rootKey(): Uint8Array {
    return this.#root.slice();
  }

  /** A copy of one sub-key's bytes (the caller zeroes it): old cipher keys are kept wrapped. */
  subKey(purpose: KeyPurpose): Uint8Array {
    return deriveKey(this.#root, purpose);
  }

  /** Overwrites every sub-key. */
  destroy(): void {
    this.#root.fill(0);
    for (const key of this.#keys.values()) key.destroy();
  }
}
