import assert from "node:assert/strict";
import { RecordDigest } from "./digest.ts";

const b = (s: string) => new TextEncoder().encode(s);

Deno.test("record digest: order does not matter; any changed byte, key split or record does", () => {
  const of = (records: [string, string][]) => {
    const d = new RecordDigest();
    for (const [k, v] of records) d.add(b(k), b(v));
    return d;
  };
  const base = of([["a", "1"], ["b", "2"], ["c", "3"]]);
  assert.equal(of([["c", "3"], ["a", "1"], ["b", "2"]]).hex, base.hex);
  assert.equal(base.count, 3);
  for (
    const other of [
      [["a", "1"], ["b", "2"], ["c", "4"]],
      [["a", "1"], ["b", "3"], ["c", "2"]], // values swapped between keys
      [["a", "1"], ["b", "2"]],
      [["a", "1"], ["b", "2"], ["c", "3"], ["c", "3"]],
      [["a", "1"], ["b", "2"], ["c3", ""]], // the same bytes, split differently
    ] as [string, string][][]
  ) {
    assert.notEqual(of(other).hex, base.hex, JSON.stringify(other));
  }
  assert.match(base.hex, /^[0-9a-f]{64}$/);
});
