/**
 * Byte arrays (what `@std/bytes` gives, out of reach here without JSR).
 *
 * @module
 */

/** The bytes of `parts`, one after another (concatenated DER, for example). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
