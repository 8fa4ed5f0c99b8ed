/**
 * `deno task bench:rotation`: how long a root-key rotation takes for 10k and
 * 100k stored secrets (`BENCH_ROTATION_SCALE`, default `10000,100000`;
 * `BENCH_QUICK=1`: 1000 only), on the kv and sqlite backends
 * (`BENCH_BACKENDS`, default `kv,sqlite`).
 *
 * It runs the real rotation (`nexus/state/rotation.ts`: handover, sweep,
 * retire) on a real store in a temp folder, in this process, with in-memory
 * Keepers (the handover is three contribute-and-read-back calls; its network
 * cost is not what grows with the store). The baseline, in the same process
 * on the same store, is one read of every secret (what the sweep must at
 * least do); the report gives the ratio. Nothing is asserted.
 *
 * @module
 */

import type { KeeperClient } from "../lib/client/keeper.ts";
import { shareIndex, splitRootKey } from "../lib/crypto/shamir.ts";
import { createLogger } from "../lib/log/log.ts";
import { KeeperLink } from "../nexus/state/keepers.ts";
import { Policies } from "../nexus/state/policies.ts";
import { RootKeyState } from "../nexus/state/rootkey.ts";
import { Rotation } from "../nexus/state/rotation.ts";
import { Secrets } from "../nexus/state/secrets.ts";
import { openKvStore } from "../nexus/store/kv.ts";
import { openSqliteStore } from "../nexus/store/sqlite.ts";

const QUICK = Deno.env.get("BENCH_QUICK") === "1";
const SCALE = (Deno.env.get("BENCH_ROTATION_SCALE") ?? (QUICK ? "1000" : "10000,100000"))
  .split(",").map(Number);
const BACKENDS = (Deno.env.get("BENCH_BACKENDS") ?? "kv,sqlite").split(",")
  .filter((b) => b === "kv" || b === "sqlite");
const KEEPERS = [1, 2, 3].map((index) => ({ index, url: `https://keeper-${index}` }));
const SEED_CONCURRENCY = 16;

const log = (line: string) => console.error(`bench rotation: ${line}`);

async function measure(backend: string, count: number) {
  const dir = await Deno.makeTempDir({ prefix: "spike-bench-rotation-" });
  const store = backend === "kv" ? await openKvStore(dir) : await openSqliteStore(dir);
  try {
    const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
    const held = new Map(shares.map((s) => [shareIndex(s), s.slice()]));
    const client = {
      contribute: (url: string, share: Uint8Array) =>
        Promise.resolve(void held.set(Number(url.at(-1)), share.slice())),
      shard: (url: string) => Promise.resolve(held.get(Number(url.at(-1)))?.slice() ?? null),
    } as unknown as KeeperClient;
    const state = new RootKeyState(2, 3, store);
    await state.adopt(new Map(shares.slice(0, 2).map((s) => [shareIndex(s), s])), "restore");
    const secrets = new Secrets(store, () => state.sealing("secrets"), () => 10, state);
    const policies = new Policies(store, () => state.sealing("policies"), state);
    const quiet = createLogger("bench", "ERROR", () => {});
    const keepers = new KeeperLink({
      state,
      keepers: KEEPERS,
      client,
      log: quiet,
      updateIntervalMs: 3_600_000,
    });
    const rotation = new Rotation({ state, store, secrets, policies, keepers, log: quiet });

    const value = new TextEncoder().encode(JSON.stringify({ v: "x".repeat(200) }));
    let next = 0;
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) await secrets.put(`bench/r/${i}`, value);
    }));

    const readStart = performance.now();
    next = 0;
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) await secrets.get(`bench/r/${i}`, 0);
    }));
    const readAllMs = performance.now() - readStart;

    const start = performance.now();
    const done = await rotation.begin();
    const rotateMs = performance.now() - start;
    keepers.stop();
    return { backend, secrets: count, rotateMs, readAllMs, resealed: done.resealed };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const rows = [];
for (const backend of BACKENDS) {
  for (const count of SCALE) {
    log(`${backend}, ${count} secrets ...`);
    rows.push(await measure(backend, count));
  }
}
console.log("backend  secrets  rotation (s)  records re-sealed  read all (s)  rotation / read all");
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(8)} ${String(r.secrets).padStart(7)}  ${
      (r.rotateMs / 1000).toFixed(2).padStart(12)
    }  ${String(r.resealed).padStart(17)}  ${(r.readAllMs / 1000).toFixed(2).padStart(12)}  ${
      (r.rotateMs / r.readAllMs).toFixed(1).padStart(19)
    }×`,
  );
}
