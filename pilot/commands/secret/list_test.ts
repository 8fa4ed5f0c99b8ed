import assert from "node:assert/strict";
import { listFolder } from "./list.ts";

const PATHS = ["demo/db", "demo/tls/cert", "demo/tls/key", "demo2/x", "other", "demo"];

Deno.test("secret list: no prefix is every path, sorted", () => {
  assert.deepEqual(listFolder(PATHS, undefined, false), [...PATHS].sort());
});

Deno.test("secret list PREFIX: one level, sub-folders once with a trailing /", () => {
  assert.deepEqual(listFolder(PATHS, "demo", false), ["demo/db", "demo/tls/"]);
  assert.deepEqual(listFolder(PATHS, "demo/", false), ["demo/db", "demo/tls/"]);
  assert.deepEqual(listFolder(PATHS, "demo/tls", false), ["demo/tls/cert", "demo/tls/key"]);
  assert.deepEqual(listFolder(PATHS, "nothing", false), []);
});

Deno.test("secret list PREFIX --recursive: every path below the folder", () => {
  assert.deepEqual(listFolder(PATHS, "demo", true), ["demo/db", "demo/tls/cert", "demo/tls/key"]);
});
