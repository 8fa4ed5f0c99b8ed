import assert from "node:assert/strict";
import { type BackendKind, BACKENDS } from "../../lib/config/programs.ts";
import { storeFileOf } from "./open.ts";

Deno.test("storeFileOf: each file-backed backend's database file, none for the others", () => {
  const files = Object.fromEntries(
    (Object.keys(BACKENDS) as BackendKind[]).map((b) => [b, storeFileOf(b)]),
  );
  assert.deepEqual(files, {
    kv: "spike.kv",
    sqlite: "spike.db",
    lite: "spike.kv",
    memory: undefined,
    postgres: undefined,
  });
});
