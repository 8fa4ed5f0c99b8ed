import assert from "node:assert/strict";
import * as node from "node:path";
import { dirname, isAbsolute, join, normalize, resolve } from "./path.ts";

// The reference is node:path (POSIX), which this module stands in for.
const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "//a",
  "a",
  "a/",
  "/a",
  "/a/",
  "/a//b",
  "a/./b",
  "a/../b",
  "../a",
  "/../a",
  "a/b/../../..",
  "/a/b/../../..",
  "./",
  "a/..",
  "/a/..",
  "a/b/",
  "//a//b//",
  "../../x/./y/",
];

Deno.test("normalize, dirname and isAbsolute agree with node:path", () => {
  for (const p of PATHS) {
    assert.equal(normalize(p), node.normalize(p), `normalize ${JSON.stringify(p)}`);
    assert.equal(dirname(p), node.dirname(p), `dirname ${JSON.stringify(p)}`);
    assert.equal(isAbsolute(p), node.isAbsolute(p), `isAbsolute ${JSON.stringify(p)}`);
  }
});

Deno.test("join and resolve agree with node:path", () => {
  for (const a of PATHS) {
    for (const b of PATHS) {
      assert.equal(join(a, b), node.join(a, b), `join ${JSON.stringify([a, b])}`);
      assert.equal(resolve(a, b), node.resolve(a, b), `resolve ${JSON.stringify([a, b])}`);
    }
  }
  assert.equal(join(), node.join());
  assert.equal(resolve(), node.resolve());
  assert.equal(join("/x", "", "y", "z/"), node.join("/x", "", "y", "z/"));
  assert.equal(resolve("/x", "y", "/z", "w"), node.resolve("/x", "y", "/z", "w"));
});
