import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteStore } from "./sqlite.ts";
import { guardStoreFile, StoreFileGoneError } from "./file_guard.ts";
import { storeFault } from "./faults.ts";
import { KvStore } from "./kv.ts";

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

Deno.test("commits that finish together share one look at the file; a later commit looks again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kv = await Deno.openKv(join(dir, "spike.kv"));
    const looks: string[] = [];
    let identity = "1:1";
    const store = guardStoreFile(new KvStore(kv), join(dir, "spike.kv"), () => {
      looks.push(identity);
      return identity;
    });
    try {
      looks.length = 0;
      // Thirty commits at once: grouped, they finish together.
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => store.atomic().set(["k", i], enc("v")).commit()),
      );
      assert.ok(results.every((r) => r.ok));
      assert.ok(looks.length <= 6, `${looks.length} looks for 30 commits in a few groups`);
      // The file is replaced: the next commit (a later turn) looks again and is refused.
      identity = "1:2";
      await assert.rejects(store.atomic().set(["k", 99], enc("v")).commit(), StoreFileGoneError);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
