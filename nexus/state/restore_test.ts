import assert from "node:assert/strict";
import { splitRootKey } from "../../lib/crypto/shamir.ts";
import { openMemoryStore } from "../store/kv.ts";
import { RestoreCollector } from "./restore.ts";
import { RootKeyState } from "./rootkey.ts";

Deno.test("restore collects shares to the threshold; wrong ones start it over", async () => {
  const store = await openMemoryStore();
  try {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const other = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    // A first key, so that a key-check record exists; then a fresh process restores.
    assert.equal(
      (await new RootKeyState(2, 3, store).adopt(
        new Map(shares.map((s) => [s[32], s.slice()])),
        "restore",
      )).outcome,
      "ready",
    );
    const state = new RootKeyState(2, 3, store);
    const restore = new RestoreCollector(state);
    assert.deepEqual(await restore.offer(1, shares[0].slice()), {
      outcome: "collecting",
      collected: 1,
      remaining: 1,
    });
    // The same id again keeps the first share and counts once.
    assert.deepEqual(await restore.offer(1, shares[0].slice()), {
      outcome: "collecting",
      collected: 1,
      remaining: 1,
    });
    const wrong = other[1].slice();
    const step = await restore.offer(2, wrong);
    assert.equal(step.outcome, "rejected");
    assert.ok(wrong.every((b) => b === 0), "a used share is zeroed");
    assert.equal(state.status, "waiting");
    // Started over: two right shares bring the key back, later calls find it known.
    assert.equal((await restore.offer(2, shares[1].slice())).outcome, "collecting");
    const [a, b] = await Promise.all([
      restore.offer(3, shares[2].slice()),
      restore.offer(1, shares[0].slice()),
    ]);
    assert.deepEqual(a, { outcome: "restored", collected: 2 });
    assert.deepEqual(b, { outcome: "known", collected: 2 });
    assert.equal(state.status, "ready");
  } finally {
    await store.close();
  }
});
