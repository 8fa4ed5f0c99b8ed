import assert from "node:assert/strict";
import { AeadKey } from "../../lib/crypto/aead.ts";
import { openMemoryStore } from "../store/kv.ts";
import type { Store } from "../store/store.ts";
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

Deno.test("a warm policy set costs one store read; every policy write moves it on", async () => {
  const backing = await openMemoryStore();
  let reads = 0;
  const store: Store = {
    get: (k) => (reads++, backing.get(k)),
    list: (p, o) => (reads++, backing.list(p, o)),
    atomic: () => backing.atomic(),
    close: () => backing.close(),
  };
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const writer = new Policies(backing, () => key);
  const reader = new Policies(store, () => key);
  try {
    for (let i = 0; i < 20; i++) {
      await writer.put({
        name: `p${i}`,
        spiffeIdPattern: "^x$",
        pathPattern: `^${i}/`,
        permissions: ["read"],
      });
    }
    assert.equal((await reader.all()).length, 20);
    reads = 0;
    assert.equal((await reader.all()).length, 20);
    assert.equal(reads, 1);
    await writer.put({ name: "p3", spiffeIdPattern: "^x$", pathPattern: "^c/", permissions: [] });
    assert.deepEqual((await reader.all()).find((p) => p.name === "p3")?.pathPattern, "^c/");
    await writer.delete("p4");
    assert.equal((await reader.all()).length, 19);
    reads = 0;
    await reader.all();
    assert.equal(reads, 1);
  } finally {
    await backing.close();
  }
});
