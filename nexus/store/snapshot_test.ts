import assert from "node:assert/strict";
import { openKvStore } from "./kv.ts";
import { openSqliteStore } from "./sqlite.ts";
import { snapshotOf } from "./snapshot.ts";
import type { Store } from "./store.ts";

/**
 * Writers commit pairs (`["a", i]` and `["b", i]` in one commit) while snapshots
 * are taken: a snapshot must hold both of a pair or neither. A listing in
 * several reads (Deno KV's) would see a `b` whose `a` it had already passed.
 */
for (const backend of ["kv", "sqlite"] as const) {
  Deno.test(`a ${backend} snapshot is one moment's records under concurrent commits`, async () => {
    const dir = await Deno.makeTempDir();
    const store: Store = backend === "kv" ? await openKvStore(dir) : await openSqliteStore(dir);
    let stop = false;
    let writers: Promise<void>[] = [];
    try {
      const value = new Uint8Array(200).fill(1);
      for (let i = 0; i < 1500; i++) {
        await store.atomic().set(["a", i], value).set(["b", i], value).commit();
      }
      let next = 1500;
      writers = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const i = next++;
          await store.atomic().set(["a", i], value).set(["b", i], value).commit();
        }
      });
      for (let round = 0; round < 5; round++) {
        const entries = await snapshotOf(store);
        const a = new Set(entries.filter((e) => e.key[0] === "a").map((e) => e.key[1]));
        const b = new Set(entries.filter((e) => e.key[0] === "b").map((e) => e.key[1]));
        assert.deepEqual([...b].filter((i) => !a.has(i)), [], `round ${round}`);
        assert.deepEqual([...a].filter((i) => !b.has(i)), [], `round ${round}`);
      }
      stop = true;
      await Promise.all(writers);
      assert.ok(next > 1500, "no write ran during the snapshots");
    } finally {
      stop = true; // a failed round must not leave writers running
      await Promise.allSettled(writers);
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
