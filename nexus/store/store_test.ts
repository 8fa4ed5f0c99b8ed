/**
 * The store's conformance suite: every backend keeps the same promises
 * (order, prefixes, whole values of any size, compare-and-set). To hold one
 * more backend to them, add its factory to {@link BACKENDS}.
 */

import assert from "node:assert/strict";
import { KV_FILE, KvStore, openKvStore, openMemoryStore, PART_BYTES, PARTS } from "./kv.ts";
import { openSqliteStore } from "./sqlite.ts";
import { compareAndSet, type Store, type StoreKey, wrapStore } from "./store.ts";
import { openPostgresStore } from "./postgres.ts";
import { parsePgConnInfo } from "./postgres_conninfo.ts";
import { PgCluster, POSTGRES_BIN } from "../../tests/support/postgres.ts";

/** A backend under test: how to open a fresh store in an empty temporary folder. */
interface BackendFactory {
  name: string;
  open(dir: string): Promise<Store>;
  /** Skips the backend (e.g. when the server it needs is not available). */
  ignore?: boolean;
}

const BACKENDS: BackendFactory[] = [
  { name: "memory", open: () => openMemoryStore() },
  { name: "kv", open: (dir) => openKvStore(dir) },
  { name: "sqlite", open: (dir) => openSqliteStore(dir) },
  // One throwaway cluster for the file (started on first use), a fresh database per test.
  {
    name: "postgres",
    ignore: !POSTGRES_BIN,
    open: async () => {
      const server = await (cluster ??= PgCluster.start());
      return await openPostgresStore({
        conninfo: parsePgConnInfo(await server.createDatabase(`conformance_${++databases}`)),
        password: server.password,
        maxOpenConns: 4,
        operationTimeoutMs: 15_000,
      });
    },
  },
];
let cluster: Promise<PgCluster> | undefined;
let databases = 0;

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** Bytes that differ at every position, so a misplaced part shows. */
const pattern = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function conformance(name: string, factory: BackendFactory, fn: (store: Store) => Promise<void>) {
  Deno.test({
    name: `${factory.name} store: ${name}`,
    ignore: factory.ignore,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      const store = await factory.open(dir);
      try {
        await fn(store);
      } finally {
        await store.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

for (const backend of BACKENDS) {
  conformance("get, ordered prefix lists, compare-and-set", backend, async (store) => {
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
  });

  conformance("a commit tells the versionstamp its keys now have", backend, async (store) => {
    const one = await store.atomic().set(["a"], bytes("a")).set(["b"], pattern(PART_BYTES * 2, 2))
      .commit();
    assert.ok(one.ok && one.versionstamp);
    assert.equal((await store.get(["a"]))!.versionstamp, one.versionstamp);
    assert.equal((await store.get(["b"]))!.versionstamp, one.versionstamp);
    // Commits made at once (grouped by some backends) each get their keys' versionstamp.
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.atomic().set(["m", i], bytes(`${i}`)).commit()),
    );
    for (const [i, done] of many.entries()) {
      assert.equal((await store.get(["m", i]))!.versionstamp, done.versionstamp);
    }
    assert.ok(one.versionstamp < many[0].versionstamp!);
  });

  conformance(
    "compareAndSet takes a guess first, and a wrong one is read again",
    backend,
    async (store) => {
      await store.atomic().set(["g"], bytes("1")).commit();
      const first = (await store.get(["g"]))!;
      await store.atomic().set(["g"], bytes("2")).commit();
      const seen: string[] = [];
      let committed: string | undefined;
      // A stale guess: the first attempt's commit loses, the second reads "2".
      const result = await compareAndSet(store, ["g"], (entry, tx) => {
        seen.push(text(entry!.value));
        tx.set(["g"], bytes(`${text(entry!.value)}+`));
        return seen.length;
      }, { guess: first, committed: (v) => committed = v });
      assert.deepEqual(seen, ["1", "2"]);
      assert.equal(result, 2);
      const now = (await store.get(["g"]))!;
      assert.equal(text(now.value), "2+");
      assert.equal(committed, now.versionstamp);
      // A throw decided on a guess is not final; one decided on what was read is.
      let calls = 0;
      await compareAndSet(store, ["g"], (entry, tx) => {
        calls++;
        if (text(entry!.value) !== "2+") throw new Error("stale");
        tx.set(["g"], bytes("3"));
      }, { guess: first });
      assert.equal(calls, 2);
      assert.equal(text((await store.get(["g"]))!.value), "3");
      await assert.rejects(
        compareAndSet(store, ["g"], () => {
          throw new Error("refused");
        }),
        /refused/,
      );
      // A right guess: no read, one commit.
      const right = (await store.get(["g"]))!;
      const counting = wrapStore(store, { get: (key) => (calls++, store.get(key)) });
      calls = 0;
      await compareAndSet(counting, ["g"], (_, tx) => void tx.set(["g"], bytes("4")), {
        guess: right,
      });
      assert.equal(calls, 0);
      assert.equal(text((await store.get(["g"]))!.value), "4");
    },
  );

  conformance("a failed check writes nothing of the batch", backend, async (store) => {
    assert.ok((await store.atomic().set(["x"], bytes("x1")).commit()).ok);
    const stale = (await store.get(["x"]))!.versionstamp;
    assert.ok((await store.atomic().set(["x"], bytes("x2")).commit()).ok);
    const { ok } = await store.atomic().check(["x"], stale).set(["y"], bytes("y")).delete(["x"])
      .set(["z"], pattern(PART_BYTES * 2, 1)).commit();
    assert.ok(!ok);
    assert.equal(text((await store.get(["x"]))!.value), "x2");
    assert.equal(await store.get(["y"]), null);
    assert.equal(await store.get(["z"]), null);
  });

  conformance("values of any size are whole, in get and list", backend, async (store) => {
    const big = pattern(PART_BYTES * 3 + 17, 3);
    const bigger = pattern(PART_BYTES * 5, 5);
    assert.ok(
      (await store.atomic().set(["v", 1], bytes("small")).set(["v", 2], big).set(
        ["v", 3],
        bytes("s3"),
      )
        .commit()).ok,
    );
    assert.deepEqual((await store.get(["v", 2]))!.value, big);
    const listed = await store.list(["v"]);
    assert.deepEqual(listed.map((e) => e.value), [bytes("small"), big, bytes("s3")]);
    assert.deepEqual((await store.list(["v"], { reverse: true, limit: 2 })).map((e) => e.key), [
      ["v", 3],
      ["v", 2],
    ]);
    // Compare-and-set on a large value, growing, shrinking and deleting it.
    const at = (await store.get(["v", 2]))!.versionstamp;
    assert.ok((await store.atomic().check(["v", 2], at).set(["v", 2], bigger).commit()).ok);
    assert.ok(!(await store.atomic().check(["v", 2], at).set(["v", 2], big).commit()).ok);
    assert.deepEqual((await store.get(["v", 2]))!.value, bigger);
    assert.ok((await store.atomic().set(["v", 2], big).commit()).ok);
    assert.deepEqual((await store.get(["v", 2]))!.value, big);
    assert.ok((await store.atomic().set(["v", 2], bytes("tiny")).commit()).ok);
    assert.equal(text((await store.get(["v", 2]))!.value), "tiny");
    assert.ok((await store.atomic().set(["v", 2], bigger).commit()).ok);
    assert.ok((await store.atomic().delete(["v", 2]).commit()).ok);
    assert.equal(await store.get(["v", 2]), null);
    assert.deepEqual((await store.list([])).map((e) => e.key), [["v", 1], ["v", 3]]);
  });

  conformance("compareAndSet: concurrent increments lose nothing", backend, async (store) => {
    const bump = () =>
      compareAndSet(store, ["n"], (entry, tx) => {
        const n = entry ? Number(text(entry.value)) + 1 : 1;
        tx.set(["n"], bytes(String(n)));
        return n;
      }, { attempts: 1000 });
    const results = await Promise.all(Array.from({ length: 20 }, bump));
    assert.deepEqual(results.sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    await assert.rejects(
      compareAndSet(store, ["n"], () => {
        throw new Error("abort");
      }),
      /abort/,
    );
    assert.equal(text((await store.get(["n"]))!.value), "20");
  });
}

Deno.test("kv: large values leave no parts behind; small ones are stored as before", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv);
  try {
    const parts = async () => (await Array.fromAsync(kv.list({ prefix: [PARTS] }))).length;
    // A value written directly (as every record was before values were split) reads as it is.
    await kv.set(["old"], bytes("as before"));
    assert.equal(text((await store.get(["old"]))!.value), "as before");
    await store.atomic().set(["k"], pattern(PART_BYTES * 4, 9)).commit();
    assert.equal(await parts(), 4);
    await store.atomic().set(["k"], pattern(PART_BYTES * 2, 9)).commit();
    assert.equal(await parts(), 2);
    await store.atomic().set(["k"], bytes("small")).commit();
    assert.equal(await parts(), 0);
    assert.ok((await kv.get(["k"])).value instanceof Uint8Array);
    await store.atomic().set(["k"], pattern(PART_BYTES * 3, 9)).commit();
    await store.atomic().delete(["k"]).commit();
    assert.equal(await parts(), 0);
  } finally {
    await store.close();
  }
});

/** A Deno KV handle that counts the atomic operations committed through it. */
function countingKv(kv: Deno.Kv): { kv: Deno.Kv; commits: () => number } {
  let commits = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => (commits++, commit());
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, commits: () => commits };
}

Deno.test("kv: concurrent commits share atomic operations; a lost check fails only its own", async () => {
  const counted = countingKv(await Deno.openKv(":memory:"));
  const store = new KvStore(counted.kv);
  try {
    assert.ok((await store.atomic().set(["held"], bytes("0")).commit()).ok);
    const held = (await store.get(["held"]))!;
    let before = counted.commits();
    const put = (i: number, check: [StoreKey, string | null]) =>
      store.atomic().check(["k", i], null).check(...check).set(["k", i], bytes(String(i))).commit();
    const all = await Promise.all(
      Array.from({ length: 50 }, (_, i) => put(i, [["free", i], null])),
    );
    assert.ok(all.every((r) => r.ok));
    // Grouped: the first goes at once, the others in a few operations.
    assert.ok(counted.commits() - before <= 5, `${counted.commits() - before} commits`);
    // One caller in a group checks a stale versionstamp: it alone fails.
    before = counted.commits();
    const mixed = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => put(100 + i, i === 6 ? [["held"], "0".repeat(20)] : [["free", 100 + i], null]),
      ),
    );
    assert.deepEqual(mixed.map((r) => r.ok), Array.from({ length: 10 }, (_, i) => i !== 6));
    for (let i = 0; i < 10; i++) {
      const entry = await store.get(["k", 100 + i]);
      assert.equal(entry && text(entry.value), i === 6 ? null : String(100 + i));
    }
    assert.equal((await store.get(["held"]))!.versionstamp, held.versionstamp);
    // Two callers checking one key in the same turn are never grouped: exactly one wins.
    const both = await Promise.all(
      [1, 2].map((n) =>
        store.atomic().check(["held"], held.versionstamp).set(["held"], bytes(String(n))).commit()
      ),
    );
    assert.deepEqual(both.map((r) => r.ok).sort(), [false, true]);
  } finally {
    await store.close();
  }
});

Deno.test("kv: reads asked for in one turn go as one getMany; a bad key fails only its own read", async () => {
  const calls = { get: 0, getMany: 0 };
  const raw = await Deno.openKv(":memory:");
  const kv = new Proxy(raw, {
    get(target, prop) {
      if (prop === "get" || prop === "getMany") calls[prop]++;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const store = new KvStore(kv);
  try {
    const tx = store.atomic();
    for (let i = 0; i < 25; i++) tx.set(["k", i], bytes(`v${i}`));
    tx.set(["big"], pattern(PART_BYTES * 2 + 5, 3));
    assert.ok((await tx.commit()).ok);
    calls.get = calls.getMany = 0;
    const read = await Promise.all(Array.from({ length: 25 }, (_, i) => store.get(["k", i])));
    assert.deepEqual(read.map((e) => e && text(e.value)), read.map((_, i) => `v${i}`));
    assert.deepEqual(calls, { get: 0, getMany: 3 }); // 10 + 10 + 5
    // Absent keys, the same key twice, a large value (parts) and a key Deno KV refuses, together.
    calls.get = calls.getMany = 0;
    const tooLong: StoreKey = ["k", "x".repeat(3000)];
    const mixed = await Promise.allSettled([
      store.get(["k", 3]),
      store.get(["absent"]),
      store.get(tooLong),
      store.get(["k", 3]),
      store.get(["big"]),
    ]);
    assert.equal(mixed[2].status, "rejected");
    const ok = mixed.map((r) => r.status === "fulfilled" ? r.value : undefined);
    assert.equal(text(ok[0]!.value), "v3");
    assert.equal(ok[1], null);
    assert.equal(text(ok[3]!.value), "v3");
    assert.deepEqual(ok[4]!.value, pattern(PART_BYTES * 2 + 5, 3));
    // The group failed, so each key was read alone (5 gets); then the large value's parts
    // (one getMany) and the re-read of its header (alone in its turn: a get).
    assert.deepEqual(calls, { get: 6, getMany: 2 });
    // A read asked for after a commit is acknowledged sees it (nothing is answered from memory).
    const [, after] = await Promise.all([
      store.atomic().set(["k", 3], bytes("new")).commit(),
      Promise.resolve().then(() => store.get(["k", 3])),
    ]);
    assert.ok(after && ["v3", "new"].includes(text(after.value)));
    assert.equal(text((await store.get(["k", 3]))!.value), "new");
  } finally {
    await store.close();
  }
});

Deno.test("kv: a grouped read sees what another process wrote before it asked", async () => {
  const dir = await Deno.makeTempDir();
  const a = await openKvStore(dir);
  const b = await openKvStore(dir);
  try {
    for (let round = 0; round < 20; round++) {
      assert.ok((await a.atomic().set(["k", round % 3], bytes(String(round))).commit()).ok);
      const seen = await Promise.all([0, 1, 2].map((i) => b.get(["k", i])));
      assert.equal(text(seen[round % 3]!.value), String(round));
    }
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv: what a store remembers of a key is checked, so another process's large value leaves no parts", async () => {
  const dir = await Deno.makeTempDir();
  const raw = await Deno.openKv(`${dir}/${KV_FILE}`);
  const a = await openKvStore(dir);
  const b = await openKvStore(dir);
  try {
    const parts = async () => (await Array.fromAsync(raw.list({ prefix: [PARTS] }))).length;
    assert.ok((await a.atomic().set(["k"], bytes("small")).commit()).ok); // a: k is whole
    assert.ok((await b.atomic().set(["k"], pattern(PART_BYTES * 3, 4)).commit()).ok);
    assert.equal(await parts(), 3);
    assert.ok((await a.atomic().set(["k"], bytes("small again")).commit()).ok);
    assert.equal(await parts(), 0);
    assert.equal(text((await b.get(["k"]))!.value), "small again");
    assert.ok((await b.atomic().set(["k"], pattern(PART_BYTES * 2, 5)).commit()).ok);
    assert.ok((await a.atomic().delete(["k"]).commit()).ok); // a remembers k as small
    assert.equal(await parts(), 0);
    assert.equal(await b.get(["k"]), null);
  } finally {
    raw.close();
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv: callers checking one key they do not write share an operation; an unread key set over parts leaves none", async () => {
  const counted = countingKv(await Deno.openKv(":memory:"));
  const store = new KvStore(counted.kv);
  const dir = await Deno.makeTempDir();
  const raw = await Deno.openKv(`${dir}/${KV_FILE}`);
  const a = await openKvStore(dir);
  const fresh = await openKvStore(dir);
  try {
    assert.ok((await store.atomic().set(["ring"], bytes("1")).commit()).ok);
    const ring = (await store.get(["ring"]))!;
    const before = counted.commits();
    const all = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          store.atomic().check(["ring"], ring.versionstamp).check(["w", i], null)
            .set(["w", i], bytes(String(i))).commit(),
      ),
    );
    assert.ok(all.every((r) => r.ok));
    assert.ok(counted.commits() - before <= 5, `${counted.commits() - before} commits`);
    // A stale check of the shared key fails only its caller.
    const mixed = await Promise.all(
      [0, 1, 2].map((i) =>
        store.atomic().check(["ring"], i === 1 ? "0".repeat(20) : ring.versionstamp)
          .set(["x", i], bytes("x")).commit()
      ),
    );
    assert.deepEqual(mixed.map((r) => r.ok), [true, false, true]);
    // `fresh` never read ["k"]: its guess (absent) loses, and the parts still go.
    assert.ok((await a.atomic().set(["k"], pattern(PART_BYTES * 3, 7)).commit()).ok);
    assert.ok((await fresh.atomic().set(["k"], bytes("small")).commit()).ok);
    assert.equal((await Array.fromAsync(raw.list({ prefix: [PARTS] }))).length, 0);
    assert.equal(text((await a.get(["k"]))!.value), "small");
  } finally {
    await store.close();
    raw.close();
    await a.close();
    await fresh.close();
    await Deno.remove(dir, { recursive: true });
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
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// Last in the file (tests run in order): stops the throwaway cluster the postgres cases started.
Deno.test({
  name: "postgres store: the test cluster stops",
  ignore: !POSTGRES_BIN,
  fn: async () => {
    if (cluster) await (await cluster).close();
  },
});
