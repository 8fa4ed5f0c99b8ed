import assert from "node:assert/strict";
import { ApiError } from "../../lib/api/errors.ts";
import { parseBackup } from "../../lib/api/backup.ts";
import { splitRootKey } from "../../lib/crypto/shamir.ts";
import { createLogger } from "../../lib/log/log.ts";
import { openMemoryStore } from "../store/kv.ts";
import type { Store } from "../store/store.ts";
import { restoreBackup, takeBackup } from "./backup.ts";
import { RootKeyState } from "./rootkey.ts";
import { Secrets } from "./secrets.ts";

const log = createLogger("test", "ERROR", () => {});
const json = (values: Record<string, string>) => new TextEncoder().encode(JSON.stringify(values));
const byIndex = (shares: Uint8Array[]) => new Map(shares.map((s) => [s[32], s.slice()]));

async function nexus(shares: Uint8Array[] | null, origin: "keepers" | "restore") {
  const store = await openMemoryStore();
  const state = new RootKeyState(2, 3, store);
  if (shares) await state.adopt(byIndex(shares), origin);
  const secrets = new Secrets(store, () => state.key("secrets"), () => 10);
  return { store, state, log, secrets };
}

const status = (code: number) => (e: unknown) => e instanceof ApiError && e.status === code;
const dump = async (store: Store) =>
  (await store.list([])).map((e) => [JSON.stringify(e.key), Array.from(e.value)]);

Deno.test("a backup restores into a pending Nexus with the same key, which then serves", async () => {
  const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
  const a = await nexus(shares, "restore");
  const b = await nexus(shares, "keepers");
  const c = await nexus(
    await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2),
    "restore",
  );
  const d = await nexus(null, "keepers");
  try {
    // Values long enough that base64 of a ciphertext cannot hold them by chance (a three-letter
    // word turned up in one run in about two hundred).
    const [one, two] = ["first-value-in-clear-1", "second-value-in-clear-2"];
    await a.secrets.put("app/db", json({ pass: one }));
    await a.secrets.put("app/db", json({ pass: two }));
    const backup = await takeBackup(a.store, "memory");
    assert.equal(parseBackup(backup).records.length, (await a.store.list([])).length);
    const text = new TextDecoder().decode(backup);
    assert.ok(!text.includes(one) && !text.includes(two), "a value in clear reached the backup");

    // Another key, or none: refused, nothing written.
    await c.secrets.put("c/own", json({ k: "v" }));
    const before = await dump(c.store);
    await assert.rejects(restoreBackup(c, backup, true), status(400));
    assert.deepEqual(await dump(c.store), before);
    await assert.rejects(restoreBackup(d, backup, true), status(400));
    assert.deepEqual(await d.store.list([]), []);

    assert.equal(b.state.status, "pending");
    assert.deepEqual(await restoreBackup(b, backup, false), { records: 4, replaced: 0 });
    assert.equal(b.state.status, "ready");
    assert.deepEqual(await b.secrets.get("app/db", 0), { pass: two });
    assert.deepEqual(await b.secrets.get("app/db", 1), { pass: one });
    assert.deepEqual(await dump(b.store), await dump(a.store));

    // Not empty: refused unless forced; forced, records the backup lacks go.
    await b.secrets.put("later/x", json({ k: "1" }));
    const held = await dump(b.store);
    await assert.rejects(restoreBackup(b, backup, false), status(409));
    assert.deepEqual(await dump(b.store), held);
    assert.deepEqual(await restoreBackup(b, backup, true), { records: 4, replaced: 5 });
    assert.deepEqual(await b.secrets.list(), ["app/db"]);
  } finally {
    for (const n of [a, b, c, d]) await n.store.close();
  }
});
