import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteStore } from "./sqlite.ts";
import { guardStoreFile, StoreFileGoneError } from "./file_guard.ts";
import { storeFault } from "./faults.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("a write to a database file deleted under the store is refused, reads go on", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "spike.db");
  const store = guardStoreFile(await openSqliteStore(dir, 1000), path);
  try {
    assert.equal((await store.atomic().set(["a"], enc("1")).commit()).ok, true);
    await Deno.remove(dir, { recursive: true });
    await assert.rejects(
      store.atomic().set(["b"], enc("2")).commit(),
      (e: unknown) => {
        assert.ok(e instanceof StoreFileGoneError);
        assert.equal(storeFault(e)?.fault, "folder missing");
        return true;
      },
    );
    assert.deepEqual(await store.get(["a"]).then((e) => e?.value), enc("1"));
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
