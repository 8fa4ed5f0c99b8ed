/**
 * Authenticated encryption of stored records: AES-256-GCM with a fresh
 * random 96-bit nonce per record and associated data that names the record,
 * so a ciphertext moved to another record fails to open instead of being
 * served. Sealed form: `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag(16)` for records
 * under root-key generation 1, and `0x02 ‖ generation(u32, big-endian) ‖
 * nonce(12) ‖ ciphertext ‖ tag(16)` for later generations (after a root-key
 * rotation): the record names the key it was sealed under. The generation is
 * also bound into the associated data of a `0x02` record, so it cannot be
 * rewritten to point at another key.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";

const VERSION = 0x01;
const VERSION_GENERATION = 0x02;
const GENERATION_HEADER = 1 + 4;
/** AES-GCM nonce length. */
export const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
/** Bytes a sealed record adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;

/** Thrown when a record does not open: altered, moved, or under another key. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/**
 * Thrown when a record names a root-key generation this process does not
 * hold (yet): another replica rotated the key. Learn the keyring record again
 * and retry; it is not an integrity failure.
 */
export class UnknownGenerationError extends Error {
  override name = "UnknownGenerationError";
  constructor(readonly generation: number) {
    super(`the record is sealed under root-key generation ${generation}, which is not known here`);
  }
}

/** What sealing and opening records needs: an {@link AeadKey}, or the generations of the root key. */
export interface SealingKey {
  seal(plaintext: Uint8Array, aad: string | Uint8Array): Uint8Array;
  open(sealed: Uint8Array, aad: string | Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();

function aadBytes(aad: string | Uint8Array): Uint8Array {
  return typeof aad === "string" ? encoder.encode(aad) : aad;
}

/**
 * The root-key generation a sealed record names: 1 for the `0x01` form, the
 * header's number for `0x02`. Reads only the header (no key needed), so a
 * sweep can tell which records still need re-sealing.
 */
export function sealedGeneration(sealed: Uint8Array): number {
  if (sealed.length >= SEAL_OVERHEAD && sealed[0] === VERSION) return 1;
  if (sealed.length >= SEAL_OVERHEAD + 4 && sealed[0] === VERSION_GENERATION) {
    const generation = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength)
      .getUint32(1);
    if (generation >= 2) return generation;
  }
  throw new IntegrityError("the record is not a sealed record of a known version");
}

/** Generation 1 keeps its original associated data; later ones bind their number too. */
function generationAad(aad: string | Uint8Array, generation: number): string | Uint8Array {
  if (generation === 1) return aad;
  const base = aadBytes(aad);
  const out = new Uint8Array(base.length + 5);
  out.set(base);
  out[base.length] = 0;
  new DataView(out.buffer).setUint32(base.length + 1, generation);
  return out;
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
    const ciphertext = new Uint8Array(plaintext.length + TAG_LENGTH);
    this.#encryptInto(ciphertext, 0, plaintext, aadBytes(aad), nonce);
    return { nonce: new Uint8Array(nonce), ciphertext };
  }

  /**
   * Writes `ciphertext ‖ tag` of `plaintext` into `out` at `at`: each part is
   * copied once, into its place (a record is written on every put).
   */
  #encryptInto(
    out: Uint8Array,
    at: number,
    plaintext: Uint8Array,
    aad: Uint8Array,
    nonce: Uint8Array,
  ): void {
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const rest = cipher.final(); // empty for GCM; kept for the length check below
    if (body.length + rest.length !== plaintext.length) {
      throw new Error("AES-GCM returned a ciphertext of an unexpected length");
    }
    out.set(body, at);
    out.set(rest, at + body.length);
    out.set(cipher.getAuthTag(), at + plaintext.length);
  }

  /** Decrypts `ciphertext ‖ tag`; throws {@link IntegrityError} unless intact and bound to `aad`. */
  decrypt(nonce: Uint8Array, ciphertext: Uint8Array, aad: string | Uint8Array): Uint8Array {
    if (nonce.length !== NONCE_LENGTH || ciphertext.length < TAG_LENGTH) {
      throw new IntegrityError("the ciphertext is malformed");
    }
    let plain: Uint8Array | undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
      decipher.setAAD(aadBytes(aad));
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_LENGTH));
      plain = decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_LENGTH));
      const rest = decipher.final(); // checks the tag; GCM has released every byte already
      if (rest.length > 0) plain = Buffer.concat([plain, rest]);
    } catch {
      plain?.fill(0); // bytes that failed the tag check are not handed on, nor left behind
      throw new IntegrityError("the record failed its integrity check");
    }
    // A plain Uint8Array over the same bytes (not copied): a Buffer's `slice` would not copy.
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  }

  /**
   * Encrypts `plaintext` into one sealed record bound to `aad`, naming root-key
   * `generation` (1, the default, writes the original `0x01` form).
   */
  seal(plaintext: Uint8Array, aad: string | Uint8Array, generation = 1): Uint8Array {
    const header = generation === 1 ? 1 : GENERATION_HEADER;
    const nonce = randomBytes(NONCE_LENGTH);
    const out = new Uint8Array(header + NONCE_LENGTH + plaintext.length + TAG_LENGTH);
    out[0] = generation === 1 ? VERSION : VERSION_GENERATION;
    if (generation !== 1) new DataView(out.buffer).setUint32(1, generation);
    out.set(nonce, header);
    this.#encryptInto(
      out,
      header + NONCE_LENGTH,
      plaintext,
      aadBytes(generationAad(aad, generation)),
      nonce,
    );
    return out;
  }

  /**
   * Opens a sealed record of any generation (the caller picks this key by
   * {@link sealedGeneration}); throws {@link IntegrityError} unless intact and bound to `aad`.
   */
  open(sealed: Uint8Array, aad: string | Uint8Array): Uint8Array {
    const generation = sealedGeneration(sealed);
    const header = generation === 1 ? 1 : GENERATION_HEADER;
    if (sealed.length < header + NONCE_LENGTH + TAG_LENGTH) {
      throw new IntegrityError("the record is too short to be a sealed record");
    }
    return this.decrypt(
      sealed.subarray(header, header + NONCE_LENGTH),
      sealed.subarray(header + NONCE_LENGTH),
      generationAad(aad, generation),
    );
  }

  /** Overwrites the key bytes. */
  destroy(): void {
    this.#key.fill(0);
  }
}
