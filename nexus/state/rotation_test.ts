import assert from "node:assert/strict";
import { sealedGeneration } from "../../lib/crypto/aead.ts";
import { shareIndex, splitRootKey } from "../../lib/crypto/shamir.ts";
import { createLogger } from "../../lib/log/log.ts";
import { openMemoryStore } from "../store/kv.ts";
import { type Store, wrapStore } from "../store/store.ts";
import { KEYRING_KEY } from "./keyring_record.ts";
import { decodeMetaRecord } from "./secret_record.ts";
import {
  fakeKeepers,
  firstReplica,
  json,
  nexus,
  sharesByIndex,
  untilReady,
} from "./_test_replicas.ts";
import { restoreBackup, takeBackup } from "./backup.ts";
import { RestoreCollector } from "./restore.ts";
import { RotationWaiting } from "./rotation.ts";
import { RootKeyState } from "./rootkey.ts";

const quiet = createLogger("test", "ERROR", () => {});
async function everyRecordUnder(store: Store, gen: number): Promise<void> {
  for (const e of await store.list(["secret-meta"])) {
    const { sealedMeta, inline } = decodeMetaRecord(e.value);
    assert.equal(sealedGeneration(sealedMeta), gen, `meta ${e.key}`);
    if (inline) assert.equal(sealedGeneration(inline.sealed), gen, `inline ${e.key}`);
  }
  for (const prefix of ["secret-data", "policy"]) {
    for (const e of await store.list([prefix])) {
      assert.equal(sealedGeneration(e.value), gen, `${e.key}`);
    }
  }
}

Deno.test("rotation re-seals every record, keeps cipher text readable, and retires the old shares", async () => {
  const store = await openMemoryStore();
  try {
    const oldShares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const keepers = fakeKeepers(oldShares);
    const a = nexus(store, keepers.client);
    await a.state.adopt(
      sharesByIndex(oldShares.slice(0, 2)),
      "restore",
    );
    for (let i = 0; i < 30; i++) await a.secrets.put(`app/${i}`, json({ v: `one-${i}` }));
    await a.secrets.put("app/0", json({ v: "two-0" }));
    await a.policies.put({
      name: "p",
      spiffeIdPattern: "^spiffe://x/.*$",
      pathPattern: "^app/",
      permissions: ["read"],
    });
    const cipherKey = a.state.key("cipher");
    const before = cipherKey.encrypt(json({ c: "before" }), "spike/cipher/v1");
    await everyRecordUnder(store, 1);

    // A second replica that knows only generation 1 until it meets generation 2.
    const b = nexus(store, keepers.client);
    await b.state.adopt(
      sharesByIndex(oldShares.slice(1, 3)),
      "keepers",
    );

    const done = await a.rotation.begin();
    assert.deepEqual({ from: done.from, to: done.to, done: done.done }, {
      from: 1,
      to: 2,
      done: true,
    });
    assert.equal(a.state.generation, 2);
    await everyRecordUnder(store, 2);
    for (const s of oldShares) assert.notDeepEqual(keepers.held.get(shareIndex(s)), s);

    // The replica held only the retired key: it answers 503 once, gets the new one from the
    // Keepers by itself, then reads and writes under generation 2.
    await assert.rejects(b.secrets.get("app/0", 0), /not_ready/);
    await untilReady(b);
    assert.deepEqual(await b.secrets.get("app/0", 0), { v: "two-0" });
    assert.deepEqual(await b.secrets.get("app/0", 1), { v: "one-0" });
    assert.equal(b.state.generation, 2);
    await b.secrets.put("app/new", json({ v: "after" }));
    await everyRecordUnder(store, 2);
    assert.equal((await b.policies.get("p")).pathPattern, "^app/");

    // Cipher text made before the rotation still decrypts, under the old cipher key only.
    const opened = a.state.cipherKeys().map((k) => {
      try {
        return new TextDecoder().decode(
          k.decrypt(before.nonce, before.ciphertext, "spike/cipher/v1"),
        );
      } catch {
        return null;
      }
    }).filter((x) => x !== null);
    assert.deepEqual(opened, ['{"c":"before"}']);

    // A restarted Nexus gets generation 2 from the Keepers; the old shares give nothing.
    const c = nexus(store, keepers.client);
    const fresh = new Map([...keepers.held].slice(0, 2).map(([i, s]) => [i, s.slice()]));
    assert.equal((await c.state.adopt(fresh, "keepers")).outcome, "ready");
    assert.equal(c.state.generation, 2);
    assert.deepEqual(await c.secrets.get("app/29", 0), { v: "one-29" });
    const stale = nexus(store, keepers.client);
    const old = sharesByIndex(oldShares.slice(0, 2));
    assert.equal((await stale.state.adopt(old, "restore")).outcome, "rejected");
    const restore = new RestoreCollector(stale.state);
    const step = await restore.offer(1, oldShares[0].slice());
    assert.equal(step.outcome, "retired");
    assert.equal(step.outcome === "retired" && step.generation, 1);

    // A backup after the rotation carries the keyring record: a fresh Nexus pending on the
    // Keepers' shares (generation 2) takes it and serves everything, old cipher text included;
    // one pending on another key is refused, and nothing is written.
    const backup = await takeBackup(store, "memory");
    const fresh2 = await openMemoryStore();
    const other = await openMemoryStore();
    try {
      const otherShares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
      const stranger = nexus(other, fakeKeepers(otherShares).client);
      await stranger.state.adopt(
        sharesByIndex(otherShares.slice(0, 2)),
        "keepers",
      );
      assert.equal(stranger.state.status, "pending");
      await assert.rejects(
        restoreBackup({ store: other, state: stranger.state, log: quiet }, backup, false),
        /made under another root key/,
      );
      assert.deepEqual(await other.list([]), []);
      assert.equal(stranger.state.status, "pending");
      stranger.keepers.stop();

      const pending = nexus(fresh2, keepers.client);
      await pending.state.adopt(
        new Map([...keepers.held].slice(0, 2).map(([i, s]) => [i, s.slice()])),
        "keepers",
      );
      assert.equal(pending.state.status, "pending");
      const done = await restoreBackup(
        { store: fresh2, state: pending.state, log: quiet },
        backup,
        false,
      );
      assert.ok(done.records > 30);
      assert.equal(pending.state.status, "ready");
      assert.equal(pending.state.generation, 2);
      assert.equal(await fresh2.get(["system", "key-check"]), null, "a key-check was written");
      assert.deepEqual(await pending.secrets.get("app/0", 0), { v: "two-0" });
      assert.deepEqual(await pending.secrets.get("app/0", 1), { v: "one-0" });
      assert.equal((await pending.policies.get("p")).pathPattern, "^app/");
      const opens = pending.state.cipherKeys().some((k) => {
        try {
          k.decrypt(before.nonce, before.ciphertext, "spike/cipher/v1");
          return true;
        } catch {
          return false;
        }
      });
      assert.ok(opens, "cipher text made before the rotation does not open after the restore");
      await pending.secrets.put("app/restored", json({ v: "new" }));
      await everyRecordUnder(fresh2, 2);
      pending.keepers.stop();
    } finally {
      await fresh2.close();
      await other.close();
    }
    await a.secrets.put("app/after-backup", json({ v: "x" }));
    const restored = await restoreBackup({ store, state: a.state, log: quiet }, backup, true);
    assert.ok(restored.records > 30);
    assert.equal(await store.get(["secret-meta", "app/after-backup"]), null);
    assert.deepEqual(await a.secrets.get("app/0", 0), { v: "two-0" });
    assert.equal(a.state.generation, 2);
    for (const n of [a, b, c, stale]) n.keepers.stop();
  } finally {
    await store.close();
  }
});

Deno.test("a rotation waits for a missing Keeper, survives a restart in the handover, then finishes", async () => {
  const store = await openMemoryStore();
  try {
    const oldShares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const keepers = fakeKeepers(oldShares);
    const a = nexus(store, keepers.client);
    await a.state.adopt(
      sharesByIndex(oldShares.slice(0, 2)),
      "restore",
    );
    await a.secrets.put("x", json({ v: "1" }));
    keepers.down.add(3);
    await assert.rejects(a.rotation.begin(), RotationWaiting);
    // Keepers 1 and 2 hold generation 2's shares, 3 still generation 1's: records are under 1.
    await everyRecordUnder(store, 1);
    keepers.down.delete(3);

    // "kill -9": a new process with only what the Keepers hold, and shares of both generations.
    const b = nexus(store, keepers.client);
    const mixed = new Map([...keepers.held].map(([i, s]) => [i, s.slice()]));
    assert.equal((await b.state.adopt(mixed, "keepers")).outcome, "ready");
    assert.deepEqual(await b.secrets.get("x", 0), { v: "1" });
    await b.secrets.put("x", json({ v: "2" })); // still under generation 1 during the handover
    const done = await b.rotation.resume();
    assert.equal(done.done, true);
    assert.equal(done.to, 2);
    await everyRecordUnder(store, 2);
    assert.deepEqual(await b.secrets.get("x", 1), { v: "1" });
    assert.deepEqual(await b.secrets.get("x", 0), { v: "2" });
    // The first process holds generation 2 from its own start: it reads without a store look at
    // the keyring, and its next write learns the record (the commit's check) and seals under 2.
    assert.deepEqual(await a.secrets.get("x", 0), { v: "2" });
    await a.secrets.put("y", json({ v: "a" }));
    assert.equal(a.state.generation, 2);
    await everyRecordUnder(store, 2);
    // A second rotation goes to generation 3 and still reads everything.
    const again = await b.rotation.begin();
    assert.deepEqual([again.from, again.to], [2, 3]);
    await everyRecordUnder(store, 3);
    // Generation 2 is retired now: the first process must go back to the Keepers.
    await assert.rejects(a.secrets.get("x", 1), /not_ready/);
    await untilReady(a);
    assert.deepEqual(await a.secrets.get("x", 1), { v: "1" });
    assert.equal(a.state.generation, 3);
    a.keepers.stop();
    b.keepers.stop();
  } finally {
    await store.close();
  }
});

Deno.test("a replica that stays up finishes a rotation another replica left unfinished", async () => {
  const store = await openMemoryStore();
  try {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const keepers = fakeKeepers(shares);
    const a = nexus(store, keepers.client);
    const b = nexus(store, keepers.client);
    await a.state.adopt(
      sharesByIndex(shares.slice(0, 2)),
      "restore",
    );
    await b.state.adopt(
      sharesByIndex(shares.slice(1, 3)),
      "keepers",
    );
    for (let i = 0; i < 20; i++) await a.secrets.put(`app/${i}`, json({ v: `${i}` }));
    // A starts a rotation and "dies" while a Keeper is away: the record stays in the handover.
    keepers.down.add(3);
    await assert.rejects(a.rotation.begin(), RotationWaiting);
    a.rotation.stop();
    a.keepers.stop();
    keepers.down.delete(3);
    const stuck = await b.state.readRecord();
    assert.equal(stuck?.record.state, "handover");
    // Nothing but B's watch drives it: no restart, no rotate call.
    b.rotation.watch(20);
    try {
      for (let i = 0; i < 300; i++) {
        if ((await b.state.readRecord())?.record.state === "stable") break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const done = await b.state.readRecord();
      assert.deepEqual([done?.record.state, done?.record.current], ["stable", 2]);
      await everyRecordUnder(store, 2);
      assert.equal(b.state.generation, 2);
      assert.deepEqual(await b.secrets.get("app/7", 0), { v: "7" });
      // Once stable, the watch starts nothing more: the generation stays.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await b.state.readRecord())?.record.current, 2);
    } finally {
      b.rotation.stop();
      b.keepers.stop();
    }
  } finally {
    await store.close();
  }
});

Deno.test("a write trusts the keyring it holds until a commit shows another replica changed it", async () => {
  const inner = await openMemoryStore();
  let keyringReads = 0;
  const store = wrapStore(inner, {
    get: (key) => {
      if (JSON.stringify(key) === JSON.stringify(KEYRING_KEY)) keyringReads++;
      return inner.get(key);
    },
  });
  const policy = (name: string) => ({
    name,
    spiffeIdPattern: "^x$",
    pathPattern: "^app/",
    permissions: ["read" as const],
  });
  try {
    const { shares, keepers, a } = await firstReplica(store);
    const b = nexus(store, keepers.client);
    const adopt = (n: typeof a, from: number) =>
      n.state.adopt(sharesByIndex(shares.slice(from, from + 2)), "keepers");
    await adopt(b, 1);
    // The keyring is unchanged: a write checks it in its commit without reading it first.
    keyringReads = 0;
    await b.secrets.put("app/1", json({ v: "one" }));
    await b.policies.put(policy("p"));
    assert.equal(keyringReads, 0);

    // A begins a rotation (and waits in the handover for Keeper 3). B has read nothing since:
    // its first commits are refused by the keyring check, and the retries learn the record.
    keepers.down.add(3);
    await assert.rejects(a.rotation.begin(), RotationWaiting);
    a.rotation.stop();
    await b.secrets.put("app/2", json({ v: "two" }));
    await b.policies.put(policy("q"));
    assert.ok(keyringReads >= 2);
    assert.deepEqual(await a.secrets.get("app/2", 0), { v: "two" });

    // Another replica finishes it (generation 1 retired). B learned generation 2 in the
    // handover, but not that it is now current: its first commit is refused again, and the
    // retry seals under generation 2.
    keepers.down.delete(3);
    const c = nexus(store, keepers.client);
    await adopt(c, 0);
    c.rotation.watch(10);
    try {
      for (let i = 0; i < 300; i++) {
        if ((await c.state.readRecord())?.record.state === "stable") break;
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      c.rotation.stop();
    }
    const done = await c.state.readRecord();
    assert.deepEqual([done?.record.state, done?.record.current], ["stable", 2]);
    assert.equal(b.state.generation, 1);
    await b.secrets.put("app/3", json({ v: "three" }));
    assert.equal(b.state.generation, 2);
    await everyRecordUnder(inner, 2);
    assert.deepEqual(await c.secrets.get("app/3", 0), { v: "three" });
    for (const n of [a, b, c]) n.keepers.stop();
  } finally {
    await inner.close();
  }
});

Deno.test("learning the keyring reads one record while it is unchanged, and decodes none", async () => {
  const inner = await openMemoryStore();
  const reads: string[] = [];
  const store = wrapStore(inner, {
    get: (key) => (reads.push(JSON.stringify(key)), inner.get(key)),
  });
  try {
    const { shares, a } = await firstReplica(store);
    // Generation 1, from the key-check record: the keyring record is absent, and stays so.
    const b = new RootKeyState(2, 3, store);
    await b.adopt(sharesByIndex(shares.slice(1, 3)), "keepers");
    reads.length = 0;
    await b.learnLatest();
    assert.deepEqual(reads, [JSON.stringify(KEYRING_KEY)]);
    // After a rotation the record exists; A, which made it, then only reads it.
    assert.equal((await a.rotation.begin()).done, true);
    a.keepers.stop();
    await a.state.learnLatest();
    assert.equal(a.state.generation, 2);
    reads.length = 0;
    await a.state.learnLatest();
    assert.deepEqual(reads, [JSON.stringify(KEYRING_KEY)]);
  } finally {
    await inner.close();
  }
});
