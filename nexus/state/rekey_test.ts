import assert from "node:assert/strict";
import type { KeeperClient } from "../../lib/client/keeper.ts";
import { combineShares, shareIndex, splitRootKey } from "../../lib/crypto/shamir.ts";
import { createLogger } from "../../lib/log/log.ts";
import { openMemoryStore } from "../store/kv.ts";
import type { Store } from "../store/store.ts";
import { KEEPER_SET_KEY, KeeperSetError } from "./keeper_set.ts";
import { KeeperLink } from "./keepers.ts";
import { Rekey, RekeyWaiting } from "./rekey.ts";
import { RestoreCollector } from "./restore.ts";
import { RootKeyState } from "./rootkey.ts";
import { Secrets } from "./secrets.ts";

const log = createLogger("test", "ERROR", () => {});
const PEERS = [1, 2, 3, 4, 5].map((i) => ({ index: i, url: `https://keeper-${i}` }));

/** Keepers in memory, by URL; `down` ones refuse every call. */
function fakeKeepers(initial: Uint8Array[]) {
  const held = new Map(initial.map((s) => [PEERS[shareIndex(s) - 1].url, s.slice()]));
  const down = new Set<string>();
  /** These answer shard but fail to store a share. */
  const stuck = new Set<string>();
  const client = {
    contribute: (url: string, share: Uint8Array) => {
      if (down.has(url) || stuck.has(url)) return Promise.reject(new Error("down"));
      held.set(url, share.slice());
      return Promise.resolve();
    },
    shard: (url: string) => {
      if (down.has(url)) return Promise.reject(new Error("down"));
      return Promise.resolve(held.get(url)?.slice() ?? null);
    },
  } as unknown as KeeperClient;
  return { held, down, stuck, client };
}

/** One Nexus process: 2-of-3 configured, five Keepers listed. */
function nexus(store: Store, client: KeeperClient) {
  const state = new RootKeyState(2, 3, store, PEERS);
  const keepers = new KeeperLink({ state, keepers: PEERS, client, log, updateIntervalMs: 60_000 });
  const rekey = new Rekey({ state, store, keepers, configured: PEERS, log });
  const secrets = new Secrets(store, () => state.sealing("secrets"), () => 10, state);
  return { state, keepers, rekey, secrets };
}

async function untilReady(state: RootKeyState): Promise<void> {
  for (let i = 0; i < 300 && state.status !== "ready"; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(state.status, "ready");
}

async function setUp() {
  const store = await openMemoryStore();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const shares = await splitRootKey(key, 3, 2);
  const fake = fakeKeepers(shares);
  const first = nexus(store, fake.client);
  await first.state.adopt(
    new Map(shares.slice(0, 2).map((s) => [shareIndex(s), s.slice()])),
    "restore",
  );
  await first.secrets.put("db/creds", new TextEncoder().encode('{"pass":"s3cret"}'));
  return { store, key, shares, fake, first };
}

Deno.test("rekey 2-of-3 → 3-of-5: the new set alone gives the same key; old shares are refused", async () => {
  const { store, key, shares, fake, first } = await setUp();
  try {
    const done = await first.rekey.begin({ shares: 5, threshold: 3 });
    assert.equal(done.threshold, 3);
    assert.deepEqual(done.keepers, PEERS);
    assert.equal(first.state.threshold, 3);
    // Any 3 new shares give the key; the kept Keepers' old shares are gone.
    const held = PEERS.map((p) => fake.held.get(p.url)!);
    assert.deepEqual(await combineShares([held[2], held[3], held[4]]), key);
    assert.notDeepEqual(held[0], shares[0]);
    assert.equal(first.state.generation, 1, "same generation: nothing re-sealed");

    // A new process, with the first two Keepers gone: keepers 3, 4, 5 are enough.
    fake.down.add(PEERS[0].url);
    fake.down.add(PEERS[1].url);
    const second = nexus(store, fake.client);
    second.keepers.start();
    await untilReady(second.state);
    second.keepers.stop();
    assert.deepEqual(await second.secrets.get("db/creds", 0), { pass: "s3cret" });

    // A restore with a recovery share made before the rekey is refused by name.
    const third = nexus(store, fake.client);
    const step = await new RestoreCollector(third.state).offer(1, shares[0].slice());
    assert.equal(step.outcome, "replaced");
  } finally {
    await store.close();
  }
});

Deno.test("a rekey cut short is finished by the next process, which recovers from the mixed Keepers", async () => {
  const { store, key, fake, first } = await setUp();
  try {
    fake.stuck.add(PEERS[4].url); // keeper 5 cannot take its share: the rekey stops after its commit
    await assert.rejects(first.rekey.begin({ shares: 5, threshold: 3 }), RekeyWaiting);
    assert.equal((await first.state.readKeeperSet()).record?.state, "rekeying");
    // "kill -9": a new process; keeper 4 holds a new share, 1..3 their old ones.
    const second = nexus(store, fake.client);
    second.state.onReady(() => second.rekey.resumeInBackground());
    second.keepers.start();
    await untilReady(second.state);
    fake.stuck.delete(PEERS[4].url);
    for (let i = 0; i < 300 && (await second.state.readKeeperSet()).next; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    second.keepers.stop();
    second.rekey.stop();
    const sets = await second.state.readKeeperSet();
    assert.equal(sets.record?.state, "stable");
    assert.equal(sets.set.threshold, 3);
    const held = PEERS.map((p) => fake.held.get(p.url)!);
    assert.deepEqual(await combineShares([held[0], held[1], held[4]]), key);
  } finally {
    await store.close();
  }
});

Deno.test("a plan that cannot be carried out changes nothing", async () => {
  const { store, fake, first } = await setUp();
  try {
    const refused = (plan: Parameters<Rekey["begin"]>[0], re: RegExp) =>
      assert.rejects(
        first.rekey.begin(plan),
        (e) => e instanceof KeeperSetError && re.test(e.message),
      );
    await refused({ shares: 3, threshold: 4 }, /threshold/);
    await refused(
      { shares: 2, threshold: 2, keepers: ["https://keeper-1", "https://keeper-9"] },
      /not in SPIKE_NEXUS_KEEPER_PEERS/,
    );
    await refused(
      { shares: 2, threshold: 2, keepers: ["https://keeper-1", "https://keeper-1"] },
      /listed twice/,
    );
    await refused(
      { shares: 3, threshold: 3, keepers: PEERS.slice(0, 3).map((p) => p.url) },
      /a crash in the middle/,
    );
    fake.down.add(PEERS[3].url);
    await refused({ shares: 5, threshold: 3 }, /keeper-4 do not answer/);
    assert.equal(await store.get(KEEPER_SET_KEY), null);
    assert.equal(first.state.threshold, 2);
  } finally {
    await store.close();
  }
});
