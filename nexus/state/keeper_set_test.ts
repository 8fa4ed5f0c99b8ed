import assert from "node:assert/strict";
import {
  checkCrashSafe,
  configuredSet,
  decodeKeeperSet,
  encodeKeeperSet,
  KeeperSetError,
  planSet,
  recoveryPeers,
} from "./keeper_set.ts";

const peers = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ index: i + 1, url: `https://k${i + 1}` }));

Deno.test("planSet keeps each Keeper's x and gives new Keepers unused ones", () => {
  const configured = peers(5);
  const current = configuredSet(configured, 3, 2);
  assert.deepEqual(current.peers.map((p) => p.index), [1, 2, 3]);
  const next = planSet(configured, current, undefined, 5, 3);
  assert.deepEqual(next, { peers: configured, threshold: 3 });
  // Dropping k1 and adding k4, k5: k2 and k3 keep 2 and 3, the new ones never reuse 1.
  const moved = planSet(
    configured,
    current,
    ["https://k5/", "https://k2", "https://k3", "https://k4"],
    4,
    3,
  );
  assert.deepEqual(moved.peers, [
    { index: 2, url: "https://k2" },
    { index: 3, url: "https://k3" },
    { index: 4, url: "https://k5" },
    { index: 5, url: "https://k4" },
  ]);
});

Deno.test("planSet refuses bad plans with a reason", () => {
  const configured = peers(5);
  const current = configuredSet(configured, 3, 2);
  const refused = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e) => e instanceof KeeperSetError && re.test(e.message));
  refused(() => planSet(configured, current, undefined, 3, 4), /threshold/);
  refused(() => planSet(configured, current, undefined, 5, 1), /at least 2/);
  refused(
    () => planSet(configured, current, ["https://k1", "https://k9"], 2, 2),
    /k9 is not in SPIKE_NEXUS_KEEPER_PEERS/,
  );
  refused(() => planSet(configured, current, ["https://k1", "https://k1/"], 2, 2), /listed twice/);
  refused(
    () => planSet(configured, current, ["https://k1", "https://k2"], 3, 2),
    /3 shares need 3 Keepers, but 2 are given/,
  );
  refused(() => planSet(configured, current, undefined, 4, 2), /but 5 are configured/);
});

Deno.test("checkCrashSafe refuses a rekey a crash could leave with neither threshold", () => {
  const all = peers(5);
  const a = configuredSet(all, 3, 2);
  // 2-of-3 → 3-of-5 (two new Keepers): always 2 old or 3 new shares.
  checkCrashSafe(a, { peers: all, threshold: 3 }, 3);
  // 2-of-3 → 3-of-3 on the same Keepers: after two overwrites, 1 old and 2 new.
  assert.throws(() => checkCrashSafe(a, { peers: a.peers, threshold: 3 }, 3), KeeperSetError);
  // Fewer Keepers holding their old share make it stricter.
  assert.throws(() => checkCrashSafe(a, { peers: all, threshold: 3 }, 1), KeeperSetError);
  // 3-of-5 → 2-of-3 among the same Keepers.
  checkCrashSafe({ peers: all, threshold: 3 }, a, 5);
});

Deno.test("recovery asks both sets during a rekey; records round-trip and unknown ones are refused", () => {
  const all = peers(5);
  const a = configuredSet(all, 3, 2);
  const b = { peers: all.slice(1), threshold: 3 };
  assert.deepEqual(recoveryPeers({ set: a, next: null }), a.peers);
  assert.deepEqual(recoveryPeers({ set: a, next: b }), all);
  const record = {
    format: 1 as const,
    state: "rekeying" as const,
    set: a,
    next: b,
    nextPoints: { gen: 1, under: 1, sealed: "AA==" },
    replacing: { gen: 1, shares: ["x"] },
    replaced: [],
    at: 1,
  };
  assert.deepEqual(decodeKeeperSet(encodeKeeperSet(record)), record);
  const bad = (r: unknown) =>
    assert.throws(
      () => decodeKeeperSet(new TextEncoder().encode(JSON.stringify(r))),
      /unknown format/,
    );
  bad({ ...record, format: 2 });
  bad({ ...record, next: null });
  bad({ ...record, set: { peers: [a.peers[0], { ...a.peers[1], index: 1 }], threshold: 2 } });
  bad({ ...record, state: "stable" });
});
