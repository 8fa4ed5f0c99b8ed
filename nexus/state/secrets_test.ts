import assert from "node:assert/strict";
import { ApiError } from "../../lib/api/errors.ts";
import { AeadKey, IntegrityError } from "../../lib/crypto/aead.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { openKvStore, openMemoryStore } from "../store/kv.ts";
import type { Store } from "../store/store.ts";
import { decodeMetaRecord, encodeMetaRecord, openMetaRecord } from "./secret_record.ts";
import { INLINE_DATA_BYTES, Secrets } from "./secrets.ts";

const json = (values: Record<string, string>) => new TextEncoder().encode(JSON.stringify(values));

type Backend = "memory" | "sqlite";

async function withSecrets(
  backend: Backend,
  maxVersions: number,
  fn: (secrets: Secrets, store: Store) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = backend === "sqlite" ? await openSqliteStore(dir) : await openMemoryStore();
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  try {
    await fn(new Secrets(store, () => key, () => maxVersions), store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Registers a test for the in-memory KV store and one for the sqlite backend. */
function onEveryBackend(
  name: string,
  maxVersions: number,
  fn: (secrets: Secrets, store: Store) => Promise<void>,
): void {
  for (const backend of ["memory", "sqlite"] as const) {
    Deno.test(`${name} (${backend})`, () => withSecrets(backend, maxVersions, fn));
  }
}

const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;

onEveryBackend("put makes versions holding exactly the given values", 10, async (secrets) => {
  assert.equal(await secrets.put("db/creds", json({ user: "a", pass: "1" })), 1);
  assert.equal(await secrets.put("db/creds", json({ user: "b" })), 2);
  assert.deepEqual(await secrets.get("db/creds", 0), { user: "b" });
  assert.deepEqual(await secrets.get("db/creds", 1), { user: "a", pass: "1" });
  await assert.rejects(secrets.get("db/creds", 3), isNotFound);
  await assert.rejects(secrets.get("nope", 0), isNotFound);
  const meta = await secrets.metadata("db/creds", 0);
  assert.equal(meta.current, 2);
  assert.equal(meta.oldest, 1);
  assert.deepEqual(Object.keys(meta.versions), ["1", "2"]);
});

onEveryBackend(
  "versions beyond the maximum are removed from storage, not only hidden",
  3,
  async (secrets, store) => {
    for (let i = 1; i <= 5; i++) await secrets.put("p", json({ n: String(i) }));
    const meta = await secrets.metadata("p", 0);
    assert.deepEqual(Object.keys(meta.versions), ["3", "4", "5"]);
    assert.equal(meta.oldest, 3);
    await assert.rejects(secrets.get("p", 1), isNotFound);
    const stored = (await store.list(["secret-data", "p"])).map((e) => e.key[2]);
    assert.deepEqual(stored, [3, 4, 5]);
  },
);

onEveryBackend("delete and undelete follow upstream's rules", 10, async (secrets) => {
  for (let i = 1; i <= 3; i++) await secrets.put("p", json({ n: String(i) }));
  await secrets.delete("p", []); // the current one
  let meta = await secrets.metadata("p", 0);
  assert.equal(meta.current, 2);
  assert.ok(meta.versions[3].deleted);
  await assert.rejects(secrets.get("p", 3), isNotFound);

  await secrets.delete("p", [1, 2, 99]); // 99 does not exist: ignored
  await assert.rejects(secrets.get("p", 0), isNotFound);
  await assert.rejects(secrets.metadata("p", 0), isNotFound);
  assert.deepEqual(await secrets.list(), ["p"]); // still listed

  await secrets.undelete("p", [0]); // all deleted: the highest deleted comes back
  assert.deepEqual(await secrets.get("p", 0), { n: "3" });
  await secrets.undelete("p", [1]);
  meta = await secrets.metadata("p", 0);
  assert.equal(meta.current, 3);
  assert.equal(meta.oldest, 1);
  await assert.rejects(secrets.undelete("p", [1]), isNotFound); // nothing to undelete
  await assert.rejects(secrets.undelete("p", []), isNotFound); // current is live
  await assert.rejects(secrets.delete("nope", []), isNotFound);

  // A put after deleting everything continues after the highest version.
  await secrets.delete("p", [1, 2, 3]);
  assert.equal(await secrets.put("p", json({ n: "4" })), 4);
});

onEveryBackend(
  "50 concurrent puts to one path give 50 distinct consecutive versions",
  100,
  async (secrets) => {
    const versions = await Promise.all(
      Array.from({ length: 50 }, (_, i) => secrets.put("race", json({ i: String(i) }))),
    );
    assert.deepEqual(
      [...versions].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const seen = new Set<string>();
    for (let v = 1; v <= 50; v++) seen.add((await secrets.get("race", v)).i);
    assert.equal(seen.size, 50);
  },
);

Deno.test("concurrent writers on two stores over one database lose nothing (CAS)", async () => {
  const dir = await Deno.makeTempDir();
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const a = await openKvStore(dir);
  const b = await openKvStore(dir);
  try {
    const sa = new Secrets(a, () => key, () => 100);
    const sb = new Secrets(b, () => key, () => 100);
    const versions = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? sa : sb).put("shared", json({ i: String(i) }))),
    );
    assert.equal(new Set(versions).size, 30);
    assert.equal((await sa.metadata("shared", 0)).current, 30);
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

onEveryBackend("large secrets are stored as one whole record", 10, async (secrets, store) => {
  // Above Deno KV's 64 KiB value limit: the kv backend splits it, the secrets layer does not.
  const big = "x".repeat(130 * 1024);
  await secrets.put("big", json({ blob: big }));
  assert.equal((await secrets.get("big", 0)).blob, big);
  const records = await store.list(["secret-data", "big", 1]);
  assert.equal(records.length, 1);
  assert.ok(records[0].value.length > big.length);
});

onEveryBackend(
  "a record altered or moved in the store is never served",
  10,
  async (secrets, store) => {
    await secrets.put("a", json({ v: "alpha" }));
    await secrets.put("a", json({ v: "alpha 2" })); // version 1 is now read from its data key
    await secrets.put("b", json({ v: "bravo" }));
    const [da] = await store.list(["secret-data", "a"]);
    const [db] = await store.list(["secret-data", "b"]);
    // Move b's data under a's key.
    await store.atomic().set(da.key, db.value).commit();
    await assert.rejects(secrets.get("a", 1), IntegrityError);
    assert.deepEqual(await secrets.get("b", 0), { v: "bravo" });
    // Put b's record (metadata and values, sealed together) under a's key.
    const ma = (await store.get(["secret-meta", "a"]))!;
    const mb = (await store.get(["secret-meta", "b"]))!;
    assert.ok(decodeMetaRecord(ma.value).joint && decodeMetaRecord(mb.value).joint);
    await store.atomic().set(ma.key, mb.value).commit();
    await assert.rejects(secrets.get("a", 0), IntegrityError);
    await assert.rejects(secrets.metadata("a", 0), IntegrityError);
    // In the form older Nexus versions wrote: b's data record as the copy beside a's metadata.
    const key = secrets.key();
    const aMeta = openMetaRecord(key, "a", ma.value).meta;
    const aSealedMeta = key.seal(
      new TextEncoder().encode(JSON.stringify(aMeta)),
      "secret-meta\u0000a",
    );
    const swapped = encodeMetaRecord(aSealedMeta, { version: 2, sealed: db.value });
    await store.atomic().set(ma.key, swapped).commit();
    await assert.rejects(secrets.get("a", 0), IntegrityError);
    // A malformed copy header is refused, not read past.
    await store.atomic().set(ma.key, Uint8Array.of(0x4d, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff))
      .commit();
    await assert.rejects(secrets.get("a", 0), IntegrityError);
    // So is a joint record whose metadata length runs past its end (sealed with the right key).
    const runaway = key.seal(
      Uint8Array.of(0, 0, 0xff, 0xff, 0x7b, 0x7d),
      "secret-meta-joint\u0000a",
    );
    await store.atomic().set(ma.key, Uint8Array.of(0x4e, ...runaway)).commit();
    await assert.rejects(secrets.get("a", 0), IntegrityError);
    // Flip one byte of b's metadata.
    const meta = (await store.get(["secret-meta", "b"]))!;
    const flipped = meta.value.slice();
    flipped[flipped.length - 3] ^= 1;
    await store.atomic().set(meta.key, flipped).commit();
    await assert.rejects(secrets.get("b", 0), IntegrityError);
    await assert.rejects(secrets.put("b", json({ v: "x" })), IntegrityError);
  },
);

onEveryBackend(
  "a secret at the documented maximum fits one atomic commit, also when pruning",
  2,
  async (secrets) => {
    const { MAX_SECRET_BYTES } = await import("../../lib/api/secrets.ts");
    const overhead = JSON.stringify({ k: "" }).length;
    const values = { k: "y".repeat(MAX_SECRET_BYTES - overhead) };
    const bytes = json(values);
    assert.equal(bytes.length, MAX_SECRET_BYTES);
    for (let i = 0; i < 4; i++) await secrets.put("max", bytes); // prunes two full versions
    assert.equal((await secrets.get("max", 0)).k.length, values.k.length);
  },
);

onEveryBackend(
  "versions an older Nexus wrote in chunks are still read and pruned",
  1,
  async (_, store) => {
    const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
    const secrets = new Secrets(store, () => key, () => 1);
    const values = json({ blob: "z".repeat(100_000) });
    const half = Math.ceil(values.length / 2);
    const meta = {
      path: "old",
      current: 1,
      oldest: 1,
      created: 1,
      updated: 1,
      maxVersions: 10,
      versions: { "1": { created: 1, deleted: null, chunks: 2 } },
    };
    const enc = new TextEncoder();
    const tx = store.atomic().set(
      ["secret-meta", "old"],
      key.seal(enc.encode(JSON.stringify(meta)), "secret-meta\u0000old"),
    );
    for (const [i, part] of [values.subarray(0, half), values.subarray(half)].entries()) {
      tx.set(
        ["secret-data", "old", 1, i],
        key.seal(part, `secret-data\u0000old\u00001\u0000${i}\u00002`),
      );
    }
    assert.ok((await tx.commit()).ok);
    assert.equal((await secrets.get("old", 1)).blob.length, 100_000);
    await secrets.put("old", json({ v: "new" })); // prunes version 1, both chunks
    assert.deepEqual(await secrets.get("old", 0), { v: "new" });
    assert.deepEqual((await store.list(["secret-data", "old"])).map((e) => e.key), [
      ["secret-data", "old", 2, 0],
    ]);
  },
);

onEveryBackend("a put with cas writes only over the version it names", 10, async (secrets) => {
  const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
  await assert.rejects(secrets.put("c", json({ a: "1" }), 1), isConflict);
  assert.equal(await secrets.put("c", json({ a: "1" }), 0), 1); // 0: no current version yet
  await assert.rejects(secrets.put("c", json({ a: "x" }), 0), isConflict);
  assert.equal(await secrets.put("c", json({ a: "2" }), 1), 2);
  await assert.rejects(secrets.put("c", json({ a: "lost?" }), 1), isConflict);
  assert.deepEqual(await secrets.get("c", 0), { a: "2" }); // the refused write changed nothing
  assert.equal((await secrets.metadata("c", 0)).current, 2);
  // Two writers that read version 2: exactly one wins.
  const both = await Promise.allSettled([
    secrets.put("c", json({ a: "3" }), 2),
    secrets.put("c", json({ b: "3" }), 2),
  ]);
  assert.deepEqual(both.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
});

/** A store that counts the reads made through it. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  return {
    store: {
      get: (key) => (reads++, store.get(key)),
      list: (prefix, options) => (reads++, store.list(prefix, options)),
      atomic: () => store.atomic(),
      close: () => store.close(),
    },
    reads: () => reads,
  };
}

onEveryBackend(
  "a get of the current version takes one store read; other versions two",
  10,
  async (_, backing) => {
    const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
    const { store, reads } = counting(backing);
    const secrets = new Secrets(store, () => key, () => 10);
    await secrets.put("p", json({ n: "1" }));
    await secrets.put("p", json({ n: "2" }));
    let before = reads();
    assert.deepEqual(await secrets.get("p", 0), { n: "2" });
    assert.deepEqual(await secrets.get("p", 2), { n: "2" });
    assert.equal(reads() - before, 2);
    before = reads();
    assert.deepEqual(await secrets.get("p", 1), { n: "1" });
    assert.equal(reads() - before, 2);
    before = reads();
    await secrets.metadata("p", 0);
    assert.equal(reads() - before, 1);
  },
);

onEveryBackend(
  "a write of a path this process wrote last reads nothing; one made elsewhere meanwhile is read, never lost",
  10,
  async (_, backing) => {
    const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
    const { store, reads } = counting(backing);
    // Two processes on one store: each has its own memory of what it wrote.
    const a = new Secrets(store, () => key, () => 3);
    const b = new Secrets(store, () => key, () => 3);
    const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
    assert.equal(await a.put("p", json({ by: "a1" })), 1);
    let before = reads();
    assert.equal(await a.put("p", json({ by: "a2" })), 2);
    assert.equal(await a.put("p", json({ by: "a3" }), 2), 3);
    assert.equal(reads() - before, 0);
    // B writes version 4; A still remembers version 3 as current.
    assert.equal(await b.put("p", json({ by: "b4" })), 4);
    before = reads();
    await assert.rejects(a.put("p", json({ by: "lost?" }), 3), isConflict); // really stale
    assert.equal(await a.put("p", json({ by: "a5" }), 4), 5); // not a false 409
    assert.ok(reads() - before >= 2);
    assert.equal(await b.put("p", json({ by: "b6" })), 6);
    assert.equal(await a.put("p", json({ by: "a7" })), 7);
    const meta = await b.metadata("p", 0);
    assert.equal(meta.current, 7);
    assert.deepEqual(Object.keys(meta.versions), ["5", "6", "7"]);
    for (const [v, by] of [[5, "a5"], [6, "b6"], [7, "a7"]] as const) {
      assert.deepEqual(await b.get("p", v), { by });
    }
    // Versions beyond the maximum left the store, whichever process wrote them.
    assert.deepEqual((await backing.list(["secret-data", "p"])).map((e) => e.key[2]), [5, 6, 7]);
    // Deleted and destroyed elsewhere: A's next write reads what is there.
    await b.destroy("p", []);
    assert.equal(await a.put("p", json({ by: "a-new" })), 1);
    assert.deepEqual(await b.get("p", 0), { by: "a-new" });
  },
);

onEveryBackend(
  "the copy beside the metadata follows the current version through delete and undelete",
  10,
  async (secrets, store) => {
    for (let i = 1; i <= 3; i++) await secrets.put("p", json({ n: String(i) }));
    const inlineVersion = async () => {
      const { value } = (await store.get(["secret-meta", "p"]))!;
      const { copy } = openMetaRecord(secrets.key(), "p", value);
      assert.equal(
        decodeMetaRecord(value).joint,
        copy !== null,
        "a copy is kept in the joint form",
      );
      return copy?.version ?? 0;
    };
    assert.equal(await inlineVersion(), 3);
    await secrets.delete("p", []);
    assert.equal(await inlineVersion(), 2);
    assert.deepEqual(await secrets.get("p", 0), { n: "2" });
    await secrets.delete("p", [1, 2]);
    assert.equal(await inlineVersion(), 0);
    await assert.rejects(secrets.get("p", 0), isNotFound);
    await secrets.undelete("p", [1]);
    assert.equal(await inlineVersion(), 1);
    assert.deepEqual(await secrets.get("p", 0), { n: "1" });
    await secrets.undelete("p", [3]);
    assert.equal(await inlineVersion(), 3);
    assert.deepEqual(await secrets.get("p", 0), { n: "3" });
    // A version too large to copy is read from its data key.
    const big = "b".repeat(INLINE_DATA_BYTES);
    await secrets.put("p", json({ big }));
    assert.equal(await inlineVersion(), 0);
    assert.equal((await secrets.get("p", 0)).big, big);
  },
);

onEveryBackend(
  "metadata without the copy (as an older Nexus wrote it) is read, and gets the copy at the next write",
  10,
  async (_, store) => {
    const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
    const secrets = new Secrets(store, () => key, () => 10);
    const enc = new TextEncoder();
    const meta = {
      path: "old",
      current: 1,
      oldest: 1,
      created: 1,
      updated: 1,
      maxVersions: 10,
      versions: { "1": { created: 1, deleted: null } },
    };
    assert.ok(
      (await store.atomic()
        .set(
          ["secret-meta", "old"],
          key.seal(enc.encode(JSON.stringify(meta)), "secret-meta\u0000old"),
        )
        .set(
          ["secret-data", "old", 1, 0],
          key.seal(json({ v: "one" }), "secret-data\u0000old\u00001\u00000\u00001"),
        )
        .commit()).ok,
    );
    assert.deepEqual(await secrets.get("old", 0), { v: "one" });
    assert.equal((await secrets.metadata("old", 0)).current, 1);
    await secrets.put("old", json({ v: "two" }));
    const record = (await store.get(["secret-meta", "old"]))!.value;
    assert.ok(decodeMetaRecord(record).joint);
    assert.equal(openMetaRecord(key, "old", record).copy?.version, 2);
    assert.deepEqual(await secrets.get("old", 0), { v: "two" });
    assert.deepEqual(await secrets.get("old", 1), { v: "one" });

    // The form with a copy of the sealed data record beside the metadata: read, then rewritten.
    const sealedMeta = key.seal(
      enc.encode(JSON.stringify({ ...meta, path: "copied" })),
      "secret-meta\u0000copied",
    );
    const data = key.seal(json({ v: "uno" }), "secret-data\u0000copied\u00001\u00000\u00001");
    assert.ok(
      (await store.atomic()
        .set(["secret-meta", "copied"], encodeMetaRecord(sealedMeta, { version: 1, sealed: data }))
        .set(["secret-data", "copied", 1, 0], data)
        .commit()).ok,
    );
    assert.deepEqual(await secrets.get("copied", 0), { v: "uno" });
    assert.equal((await secrets.metadata("copied", 1)).current, 1);
    await secrets.delete("copied", [7]); // a write that keeps the current version
    const rewritten = (await store.get(["secret-meta", "copied"]))!.value;
    assert.ok(decodeMetaRecord(rewritten).joint);
    assert.deepEqual(await secrets.get("copied", 0), { v: "uno" });
  },
);
