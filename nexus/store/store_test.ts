/** Every backend keeps the same promises: order, prefixes, and compare-and-set. */

import assert from "node:assert/strict";
import { decodeKey, encodeKey, openSqliteStore } from "./sqlite.ts";
import { openKvStore, openMemoryStore, type Store } from "./store.ts";
import { openPostgresStore } from "./postgres.ts";
import { parsePgConnInfo } from "./postgres_conninfo.ts";
import { PgCluster, POSTGRES_BIN } from "../../tests/support/postgres.ts";

const BACKENDS: [string, (dir: string) => Promise<Store>][] = [
  ["memory", () => openMemoryStore()],
  ["kv", (dir) => openKvStore(dir)],
  ["sqlite", (dir) => openSqliteStore(dir)],
];

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The promises every backend keeps, checked on a fresh, empty store. */
async function conformance(store: Store): Promise<void> {
  assert.equal(await store.get(["a"]), null);
  assert.ok((await store.atomic().check(["a"], null).set(["a"], bytes("1")).commit()).ok);
  const a = (await store.get(["a"]))!;
  assert.equal(text(a.value), "1");
  // A check against an old versionstamp fails and changes nothing.
  assert.ok(
    (await store.atomic().check(["a"], a.versionstamp).set(["a"], bytes("2")).commit()).ok,
  );
  assert.ok(
    !(await store.atomic().check(["a"], a.versionstamp).set(["a"], bytes("3")).commit()).ok,
  );
  assert.ok(
    !(await store.atomic().check(["b"], a.versionstamp).set(["b"], bytes("x")).commit()).ok,
  );
  assert.equal(text((await store.get(["a"]))!.value), "2");
  assert.equal(await store.get(["b"]), null);
  // Tuple order: numbers numerically, strings bytewise, prefixes exact.
  const tx = store.atomic();
  for (const v of [10, 2, 1, 100]) tx.set(["d", "p", v, 0], bytes(`v${v}`));
  tx.set(["d", "p2", 1, 0], bytes("other path"));
  tx.set(["d", "p", 2, 1], bytes("v2c1"));
  assert.ok((await tx.commit()).ok);
  const listed = await store.list(["d", "p"]);
  assert.deepEqual(listed.map((e) => e.key), [
    ["d", "p", 1, 0],
    ["d", "p", 2, 0],
    ["d", "p", 2, 1],
    ["d", "p", 10, 0],
    ["d", "p", 100, 0],
  ]);
  assert.deepEqual((await store.list(["d", "p", 2])).map((e) => text(e.value)), ["v2", "v2c1"]);
  assert.deepEqual((await store.list(["d"], { reverse: true, limit: 1 }))[0].key, [
    "d",
    "p2",
    1,
    0,
  ]);
  assert.ok((await store.atomic().delete(["d", "p", 1, 0]).commit()).ok);
  assert.equal((await store.list(["d", "p"])).length, 4);
}

for (const [name, open] of BACKENDS) {
  Deno.test(`${name} store: get, ordered prefix lists, compare-and-set`, async () => {
    const dir = await Deno.makeTempDir();
    const store = await open(dir);
    try {
      await conformance(store);
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "postgres store: get, ordered prefix lists, compare-and-set",
  ignore: !POSTGRES_BIN,
  fn: async () => {
    const cluster = await PgCluster.start();
    try {
      const store = await openPostgresStore({
        conninfo: parsePgConnInfo(await cluster.createDatabase("conformance")),
        password: cluster.password,
        maxOpenConns: 4,
        operationTimeoutMs: 15_000,
      });
      try {
        await conformance(store);
      } finally {
        await store.end();
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test("sqlite keys keep tuple order in their bytes", () => {
  // As in Deno KV: strings sort before numbers.
  const keys: (string | number)[][] = [
    ["a"],
    ["a", "z"],
    ["a", 1],
    ["a", 2],
    ["a", 10],
    ["a\u0000b"],
    ["ab"],
    ["b"],
  ];
  const compare = (x: Uint8Array, y: Uint8Array) => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const encoded = keys.map(encodeKey);
  for (let i = 1; i < encoded.length; i++) {
    assert.ok(compare(encoded[i - 1], encoded[i]) < 0, `${keys[i - 1]} < ${keys[i]}`);
  }
  for (const key of [...keys, ["secret-data", "p/a", 3, 0], [-1.5, 0, 2 ** 40]]) {
    assert.deepEqual(decodeKey(encodeKey(key)), key);
  }
});

Deno.test("two sqlite connections to one file: each write sees the other's (CAS)", async () => {
  const dir = await Deno.makeTempDir();
  const a = await openSqliteStore(dir);
  const b = await openSqliteStore(dir);
  try {
    assert.ok((await a.atomic().check(["k"], null).set(["k"], bytes("a")).commit()).ok);
    assert.ok(!(await b.atomic().check(["k"], null).set(["k"], bytes("b")).commit()).ok);
    const seen = (await b.get(["k"]))!;
    assert.equal(text(seen.value), "a");
    assert.ok(
      (await b.atomic().check(["k"], seen.versionstamp).set(["k"], bytes("b")).commit()).ok,
    );
    assert.equal(text((await a.get(["k"]))!.value), "b");
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});
