/**
 * The key encoding the SQL backends share: a key tuple becomes bytes whose
 * order is the tuple order (strings and numbers, as FoundationDB's tuple
 * layer does, and with Deno KV's rule that strings sort before numbers), so
 * that a prefix listing is one byte range.
 *
 * @module
 */

import type { StoreKey } from "./store.ts";

const STRING = 0x02;
const NUMBER = 0x21;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a key tuple; byte order equals tuple order. */
export function encodeKey(key: StoreKey): Uint8Array {
  const parts: number[] = [];
  for (const element of key) {
    if (typeof element === "string") {
      parts.push(STRING);
      for (const b of encoder.encode(element)) {
        parts.push(b);
        if (b === 0x00) parts.push(0xff); // an escaped NUL, so the terminator stays unique
      }
      parts.push(0x00);
    } else {
      if (!Number.isFinite(element)) throw new Error(`key element ${element} is not finite`);
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setFloat64(0, element);
      // Flip so that byte order is numeric order: all bits for negatives, the sign for others.
      if (bytes[0] & 0x80) { for (let i = 0; i < 8; i++) bytes[i] ^= 0xff; }
      else bytes[0] ^= 0x80;
      parts.push(NUMBER, ...bytes);
    }
  }
  return new Uint8Array(parts);
}

/** Decodes what {@link encodeKey} made. */
export function decodeKey(bytes: Uint8Array): StoreKey {
  const out: (string | number)[] = [];
  let i = 0;
  while (i < bytes.length) {
    const type = bytes[i++];
    if (type === STRING) {
      const raw: number[] = [];
      while (bytes[i] !== 0x00 || bytes[i + 1] === 0xff) {
        raw.push(bytes[i]);
        i += bytes[i] === 0x00 ? 2 : 1;
      }
      i++;
      out.push(decoder.decode(new Uint8Array(raw)));
    } else if (type === NUMBER) {
      const b = bytes.slice(i, i + 8);
      if (b[0] & 0x80) b[0] ^= 0x80;
      else for (let j = 0; j < 8; j++) b[j] ^= 0xff;
      out.push(new DataView(b.buffer).getFloat64(0));
      i += 8;
    } else {
      throw new Error(`unknown key element type ${type}`);
    }
  }
  return out;
}
