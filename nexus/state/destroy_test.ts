import assert from "node:assert/strict";
import { ApiError } from "../../lib/api/errors.ts";
import { AeadKey } from "../../lib/crypto/aead.ts";
import { openMemoryStore } from "../store/kv.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import type { Store } from "../store/store.ts";
import { Secrets } from "./secrets.ts";

const json = (values: Record<string, string>) => new TextEncoder().encode(JSON.stringify(values));
const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
const keys = async (store: Store) => (await store.list([])).map((e) => JSON.stringify(e.key));

for (const backend of ["memory", "sqlite"] as const) {
  const withSecrets = async (fn: (secrets: Secrets, store: Store) => Promise<void>) => {
    const dir = await Deno.makeTempDir();
    const store = backend === "sqlite" ? await openSqliteStore(dir) : await openMemoryStore();
    const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
    try {
      await fn(new Secrets(store, () => key, () => 10), store);
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  };

  Deno.test(`destroy removes versions' records and keeps the rest (${backend})`, () =>
    withSecrets(async (secrets, store) => {
      for (const v of ["1", "2", "3"]) await secrets.put("app/db", json({ v }));
      assert.deepEqual(await secrets.destroy("app/db", [2]), [2]);
      assert.ok(!(await keys(store)).includes('["secret-data","app/db",2,0]'));
      await assert.rejects(secrets.get("app/db", 2), isNotFound);
      assert.deepEqual(await secrets.get("app/db", 1), { v: "1" });
      assert.deepEqual(await secrets.get("app/db", 0), { v: "3" });
      // The current one: the highest left becomes current, and its copy is read with it.
      assert.deepEqual(await secrets.destroy("app/db", [0]), [3]);
      const meta = await secrets.metadata("app/db", 0);
      assert.equal(meta.current, 1);
      assert.deepEqual(Object.keys(meta.versions), ["1"]);
      assert.deepEqual(await secrets.get("app/db", 0), { v: "1" });
      // A version not stored: 404, nothing removed.
      const before = await keys(store);
      await assert.rejects(secrets.destroy("app/db", [1, 7]), isNotFound);
      await assert.rejects(secrets.destroy("no/such", []), isNotFound);
      assert.deepEqual(await keys(store), before);
      // The last version: the path goes whole.
      assert.deepEqual(await secrets.destroy("app/db", [1]), [1]);
      assert.deepEqual(await keys(store), []);
      assert.deepEqual(await secrets.list(), []);
    }));

  Deno.test(`destroy of a whole path leaves other paths alone (${backend})`, () =>
    withSecrets(async (secrets, store) => {
      await secrets.put("a", json({ k: "1" }));
      await secrets.put("a", json({ k: "2" }));
      await secrets.put("a/b", json({ k: "x" }));
      await secrets.delete("a", [1, 2]); // deleted versions are destroyed too
      assert.deepEqual(await secrets.destroy("a", []), [1, 2]);
      assert.deepEqual(await secrets.list(), ["a/b"]);
      assert.ok((await keys(store)).every((k) => k.includes('"a/b"')));
      assert.deepEqual(await secrets.get("a/b", 0), { k: "x" });
      // A put after a destroy starts again at version 1.
      await secrets.put("a", json({ k: "new" }));
      assert.equal((await secrets.metadata("a", 0)).current, 1);
    }));
}
