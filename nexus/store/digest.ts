/**
 * A fingerprint of a set of records (encoded key and sealed value), the same
 * whatever order they are added in: the sum, modulo 2^256, of one SHA-256 per
 * record over its key's length, key and value. A migration computes it over
 * the source and over the target to prove they hold the same records, byte
 * for byte, without either side having to list in the same order.
 *
 * @module
 */

import { createHash } from "node:crypto";

const MOD = 1n << 256n;

/** Count and order-independent digest of records. */
export class RecordDigest {
  #sum = 0n;
  #count = 0;

  /** Adds one record: its encoded key and its stored value. */
  add(key: Uint8Array, value: Uint8Array): void {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, key.length);
    const hash = createHash("sha256").update(length).update(key).update(value).digest("hex");
    this.#sum = (this.#sum + BigInt(`0x${hash}`)) % MOD;
    this.#count++;
  }

  /** How many records were added. */
  get count(): number {
    return this.#count;
  }

  /** The digest, 64 hex digits. */
  get hex(): string {
    return this.#sum.toString(16).padStart(64, "0");
  }
}
