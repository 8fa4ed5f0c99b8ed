/**
 * The one share a Keeper holds, in memory only. It is never written to disk
 * or logged; a new share overwrites (and zeroes) the old one.
 *
 * @module
 */

import { SHARE_LENGTH } from "../lib/crypto/shamir.ts";

/** The Keeper's single share slot. */
export class ShareSlot {
  // One fixed buffer, so replacing a share overwrites the old bytes in place.
  readonly #bytes = new Uint8Array(SHARE_LENGTH);
  #held = false;

  /** Keeps `share` (a copy), replacing the previous one. */
  store(share: Uint8Array): void {
    if (share.length !== SHARE_LENGTH) throw new Error(`a share is ${SHARE_LENGTH} bytes`);
    this.#bytes.set(share);
    this.#held = true;
  }

  /** A copy of the share, or undefined when none is held. */
  read(): Uint8Array | undefined {
    return this.#held ? this.#bytes.slice() : undefined;
  }

  /** Forgets the share. */
  clear(): void {
    this.#bytes.fill(0);
    this.#held = false;
  }
}
