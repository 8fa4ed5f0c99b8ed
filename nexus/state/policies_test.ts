import assert from "node:assert/strict";
import { AeadKey } from "../../lib/crypto/aead.ts";
import { openMemoryStore } from "../store/kv.ts";
import { Policies } from "./policies.ts";

Deno.test("policies are always what the store holds now (no stale reads)", async () => {
  const store = await openMemoryStore();
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const a = new Policies(store, () => key);
  const b = new Policies(store, () => key); // another replica on the same store
  try {
    await a.put({ name: "p", spiffeIdPattern: "^x$", pathPattern: "^a/", permissions: ["read"] });
    assert.deepEqual((await b.all()).map((p) => p.pathPattern), ["^a/"]);
    await a.put({ name: "p", spiffeIdPattern: "^x$", pathPattern: "^b/", permissions: ["read"] });
    assert.deepEqual((await b.all()).map((p) => p.pathPattern), ["^b/"]);
    await a.delete("p");
    assert.deepEqual(await b.all(), []);
    await assert.rejects(b.get("p"), /api_not_found/);
  } finally {
    await store.close();
  }
});
