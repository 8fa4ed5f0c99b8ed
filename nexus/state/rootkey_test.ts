import assert from "node:assert/strict";
import { splitRootKey } from "../../lib/crypto/shamir.ts";
import { openMemoryStore } from "../store/kv.ts";
import type { Store } from "../store/store.ts";
import { RootKeyState } from "./rootkey.ts";

function byIndex(shares: Uint8Array[]): Map<number, Uint8Array> {
  return new Map(shares.map((s) => [s[32], s.slice()]));
}

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openMemoryStore();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

Deno.test("a first key from Keepers stays pending until confirmed, then is checked", () =>
  withStore(async (store) => {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const state = new RootKeyState(2, 3, store);
    assert.equal(state.status, "waiting");
    assert.equal(await state.initialized(), false);
    assert.deepEqual(await state.adopt(byIndex(shares.slice(0, 2)), "keepers"), {
      outcome: "pending",
    });
    assert.equal(state.status, "pending");
    assert.throws(() => state.key("secrets"), /not_ready/); // nothing may use a pending key but verify
    assert.ok(state.key("bootstrap-verify"));
    assert.ok(await state.confirmPending());
    assert.equal(state.status, "ready");
    assert.equal(await state.initialized(), true);
    assert.deepEqual(await state.shares(), shares);

    // A later process: the key-check picks the right subset and names the wrong share.
    const later = new RootKeyState(2, 3, store);
    const bad = byIndex(shares);
    bad.get(2)![0] ^= 1;
    const result = await later.adopt(bad, "keepers");
    assert.deepEqual(result, { outcome: "ready", wrongShares: [2] });
    assert.deepEqual(await later.shares(), shares);
  }));

Deno.test("shares that fail the key check are rejected and nothing is used", () =>
  withStore(async (store) => {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const first = new RootKeyState(2, 3, store);
    await first.adopt(byIndex(shares), "restore");
    assert.equal(first.status, "ready");

    const other = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const state = new RootKeyState(2, 3, store);
    const result = await state.adopt(byIndex(other), "restore");
    assert.equal(result.outcome, "rejected");
    assert.equal(state.status, "waiting");
    assert.throws(() => state.key("bootstrap-verify"), /not_ready/);
    const mixed = new Map([[1, shares[0].slice()], [2, other[1].slice()]]);
    assert.equal((await state.adopt(mixed, "keepers")).outcome, "rejected");
    assert.equal(state.status, "waiting");
  }));

Deno.test("without a key-check, disagreeing Keeper shares are not trusted", () =>
  withStore(async (store) => {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const state = new RootKeyState(2, 3, store);
    const bad = byIndex(shares);
    bad.get(3)![7] ^= 1;
    const result = await state.adopt(bad, "keepers");
    assert.equal(result.outcome, "rejected");
    assert.equal(state.status, "waiting");
    assert.equal((await state.adopt(byIndex(shares.slice(0, 1)), "keepers")).outcome, "rejected");
  }));

Deno.test("a pending key confirmed while the Keepers' shares are adopted against the same key check is confirmed", () =>
  withStore(async (store) => {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const made = new RootKeyState(2, 3, store);
    await made.adopt(byIndex(shares.slice(0, 2)), "restore"); // writes the key-check record
    const check = (await store.get(["system", "key-check"]))!.value;
    await store.atomic().delete(["system", "key-check"]).commit();
    // A fresh Nexus: the Keepers' key waits, pending. Then a restore writes the key check and
    // confirms the pending key while the Keepers' next update adopts the shares against it.
    const state = new RootKeyState(2, 3, store);
    assert.deepEqual(await state.adopt(byIndex(shares.slice(1, 3)), "keepers"), {
      outcome: "pending",
    });
    await store.atomic().check(["system", "key-check"], null).set(["system", "key-check"], check)
      .commit();
    const [adopted, confirmed] = await Promise.all([
      state.adopt(byIndex(shares.slice(0, 2)), "keepers"),
      state.confirmPending(),
    ]);
    assert.equal(adopted.outcome, "ready");
    assert.equal(confirmed, true);
    assert.equal(state.status, "ready");
    assert.deepEqual(await state.shares(), shares);
  }));
