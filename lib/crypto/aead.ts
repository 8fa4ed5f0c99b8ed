/**
 * Authenticated encryption of stored records: AES-256-GCM with a fresh
 * random 96-bit nonce per record and associated data that names the record,
 * so a ciphertext moved to another record fails to open instead of being
 * served. Sealed form: `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag(16)`.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";

const VERSION = 0x01;
/** AES-GCM nonce length. */
export const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
/** Bytes a sealed record adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;

/** Thrown when a record does not open: altered, moved, or under another key. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

const encoder = new TextEncoder();

function aadBytes(aad: string | Uint8Array): Uint8Array {
  return typeof aad === "string" ? encoder.encode(aad) : aad;
}

/** A 256-bit AES-GCM key. */
export class AeadKey {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error(`an AES-256 key is 32 bytes (got ${key.length})`);
    this.#key = Buffer.from(key);
  }

  /**
   * Encrypts with a fresh random nonce (or the one given, for tests); the
   * ciphertext carries the 16-byte tag at its end.
   */
  encrypt(
    plaintext: Uint8Array,
    aad: string | Uint8Array,
    nonce: Uint8Array = randomBytes(NONCE_LENGTH),
  ): { nonce: Uint8Array; ciphertext: Uint8Array } {
    if (nonce.length !== NONCE_LENGTH) throw new Error(`a nonce is ${NONCE_LENGTH} bytes`);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(aadBytes(aad));
    const ciphertext = new Uint8Array(Buffer.concat([
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]));
    return { nonce: new Uint8Array(nonce), ciphertext };
  }

  /** Decrypts `ciphertext ‖ tag`; throws {@link IntegrityError} unless intact and bound to `aad`. */
  decrypt(nonce: Uint8Array, ciphertext: Uint8Array, aad: string | Uint8Array): Uint8Array {
    if (nonce.length !== NONCE_LENGTH || ciphertext.length < TAG_LENGTH) {
      throw new IntegrityError("the ciphertext is malformed");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
      decipher.setAAD(aadBytes(aad));
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_LENGTH));
      const body = ciphertext.subarray(0, ciphertext.length - TAG_LENGTH);
      return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
    } catch {
      throw new IntegrityError("the record failed its integrity check");
    }
  }

  /** Encrypts `plaintext` into one sealed record bound to `aad`. */
  seal(plaintext: Uint8Array, aad: string | Uint8Array): Uint8Array {
    const { nonce, ciphertext } = this.encrypt(plaintext, aad);
    const out = new Uint8Array(1 + NONCE_LENGTH + ciphertext.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(ciphertext, 1 + NONCE_LENGTH);
    return out;
  }

  /** Opens a sealed record; throws {@link IntegrityError} unless intact and bound to `aad`. */
  open(sealed: Uint8Array, aad: string | Uint8Array): Uint8Array {
    if (sealed.length < SEAL_OVERHEAD || sealed[0] !== VERSION) {
      throw new IntegrityError("the record is not a sealed record of a known version");
    }
    return this.decrypt(
      sealed.subarray(1, 1 + NONCE_LENGTH),
      sealed.subarray(1 + NONCE_LENGTH),
      aad,
    );
  }

  /** Overwrites the key bytes. */
  destroy(): void {
    this.#key.fill(0);
  }
}
