import assert from "node:assert/strict";
import { decodeKey, encodeKey } from "./keys.ts";

Deno.test("encoded keys keep tuple order in their bytes, and decode back", () => {
  // As in Deno KV: strings sort before numbers.
  const keys: (string | number)[][] = [
    ["a"],
    ["a", "z"],
    ["a", 1],
    ["a", 2],
    ["a", 10],
    ["a\u0000b"],
    ["ab"],
    ["b"],
  ];
  const compare = (x: Uint8Array, y: Uint8Array) => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const encoded = keys.map(encodeKey);
  for (let i = 1; i < encoded.length; i++) {
    assert.ok(compare(encoded[i - 1], encoded[i]) < 0, `${keys[i - 1]} < ${keys[i]}`);
  }
  for (const key of [...keys, ["secret-data", "p/a", 3, 0], [-1.5, 0, 2 ** 40]]) {
    assert.deepEqual(decodeKey(encodeKey(key)), key);
  }
});
