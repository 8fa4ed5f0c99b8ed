/**
 * Rotation, destroy and backup on the postgres backend, with two Nexus replicas (A and B) on one
 * real PostgreSQL and three Keepers, all separate processes with their launcher grants:
 *
 * - `spike operator rotate` through A while writers write through A and B: both replicas report
 *   the new generation, every acknowledged write reads back through both, a cipher text made
 *   before decrypts through B; a replica that wrote nothing meanwhile reports the new generation
 *   at once and decrypts what A encrypted under it;
 * - kill -9 of A in the middle of the re-seal (the keyring record, read with `psql`, says
 *   `resealing`): B finishes the rotation by itself, and A restarted serves the new key;
 * - `spike secret destroy` through A: the sealed bytes, found in a `pg_dump` of the table before,
 *   are in none after, and B no longer serves the version; `VACUUM FULL` leaves no piece in the
 *   table's file either;
 * - `spike operator backup` through B under writes, restored with `restore-backup` into a fresh
 *   PostgreSQL database served by both replicas with the same Keepers.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { RotateResponse } from "../lib/api/rotation.ts";
import { NexusClient } from "../lib/client/nexus.ts";
import { encodeKey } from "../nexus/store/keys.ts";
import { agentAs, untilServed } from "./support/clients.ts";
import { readyGeneration, startWriters } from "./support/load.ts";
import { PgCluster, POSTGRES_BIN } from "./support/postgres.ts";
import { type Identity, Stack } from "./support/stack.ts";

const A = 0;
const B = 1;
/** `SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL`: how soon a live replica takes over a stalled rotation. */
const UPDATE_INTERVAL = "2s";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));

/** Reads every acknowledged write through each of `replicas`, 20 at a time. */
async function assertAllReadable(replicas: NexusClient[], acked: Map<string, string>) {
  const entries = [...acked];
  for (let i = 0; i < entries.length; i += 20) {
    await Promise.all(
      entries.slice(i, i + 20).flatMap(([path, value]) =>
        replicas.map(async (nexus) => {
          assert.deepEqual(await untilServed(() => nexus.getSecret(path)), { v: value }, path);
        })
      ),
    );
  }
}

/** The 16-byte pieces (every 16th offset) of `sealed` found in `haystack` (hex text). */
function piecesIn(haystack: string, sealed: Uint8Array): number[] {
  const found: number[] = [];
  for (let at = 0; at + 16 <= sealed.length; at += 16) {
    if (haystack.includes(hex(sealed.subarray(at, at + 16)))) found.push(at);
  }
  return found;
}

/** A long value, so that its record spans many 16-byte pieces. */
const long = (tag: string) => `${tag}-`.repeat(60);

Deno.test("two Nexus replicas on PostgreSQL: rotation, destroy and backup", {
  ignore: !POSTGRES_BIN,
}, async (t) => {
  const pg = await PgCluster.start();
  let stack: Stack | undefined;
  const closers: (() => void)[] = [];
  try {
    stack = await Stack.start({
      backend: "postgres",
      bootstrap: false,
      updateInterval: UPDATE_INTERVAL,
      postgres: {
        hostPort: pg.hostPort,
        url: await pg.createDatabase("nexus"),
        password: pg.password,
      },
    });
    const s = stack;
    for (let i = 0; i < 3; i++) await s.startKeeper(i);
    await Promise.all([A, B].map((i) => s.startNexus({}, i)));
    const urls = [A, B].map((i) => s.replicaUrl(i));
    const proc = (i: number) => i === A ? s.nexus! : s.replicas.get(i)!;
    /** A client of replica `i` only (no failover). */
    const clientOf = async (identity: Identity, i: number) => {
      const { agent, close } = await agentAs(s, identity, "nexus");
      closers.push(close);
      return new NexusClient({ url: urls[i], agent, timeoutMs: 15_000, readAttempts: 1 });
    };
    const su = [await clientOf("pilot", A), await clientOf("pilot", B)];
    /** `spike` pointed at one replica only. */
    const spikeAt = (i: number, args: string[], stdin?: string) =>
      s.spike("pilot", args, { env: { SPIKE_NEXUS_API_URL: urls[i] }, stdin });
    /** SQL on a database of the cluster, through psql. */
    const sql = (query: string, database = "nexus") => pg.psql(query, database);
    const keyHex = (key: (string | number)[]) => hex(encodeKey(key));
    const keyring = async () =>
      JSON.parse(
        await sql(
          `SELECT convert_from(v, 'UTF8') FROM spike_kv WHERE k = '\\x${
            keyHex(["system", "keyring"])
          }'`,
        ),
      );

    const boot = await s.runBootstrap({ SPIKE_NEXUS_API_URL: urls[A] });
    assert.equal(boot.code, 0, boot.stderr);
    for (const nexus of su) await untilServed(() => nexus.listSecrets(), 60_000);

    // Enough paths that a re-seal takes a while; written through both replicas.
    const seeded = new Map<string, string>();
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < 800; i += 8) {
        const value = `seed-${i}`;
        await su[i % 2].putSecret(`seed/${i}`, { v: value });
        seeded.set(`seed/${i}`, value);
      }
    }));
    const before = await su[A].encrypt(new TextEncoder().encode("made before rotation"));
    const acked = new Map<string, string>();

    await t.step("rotate through A with writers on A and B: both agree, nothing lost", async () => {
      assert.deepEqual(await Promise.all(su.map((n) => readyGeneration(n, 60_000))), [1, 1]);
      const load = startWriters(su, 2, { tag: "rot", pauseMs: 50, retryMs: 200 });
      const rotated = await spikeAt(A, ["operator", "rotate"]);
      await new Promise((r) => setTimeout(r, 300)); // writes after the rotation too
      await load.stop();
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stdout, /generation 2 is in use, 1 is retired/);
      assert.equal(load.failed(), 0, "a write failed during the rotation");
      assert.ok(load.acked.size > 20, `only ${load.acked.size} writes acknowledged`);
      for (const [k, v] of load.acked) acked.set(k, v);
      assert.deepEqual(await Promise.all(su.map((n) => readyGeneration(n, 60_000))), [2, 2]);
      const state = await keyring();
      assert.deepEqual([state.current, state.state], [2, "stable"]);
      await assertAllReadable(su, load.acked);
      const opened = await su[B].decrypt(before);
      assert.equal(new TextDecoder().decode(opened), "made before rotation");
      console.log(`rotation with writers on both replicas: ${load.acked.size} writes, 0 failed`);
    });

    await t.step(
      "a replica that wrote nothing meanwhile reports the new generation at once",
      async () => {
        // While A rotates, B never reports a generation older than the store named before the
        // question (read independently with psql), although no write reaches B.
        let rotating = true;
        const rotation = spikeAt(A, ["operator", "rotate"]).finally(() => rotating = false);
        const behind: string[] = [];
        let samples = 0;
        while (rotating) {
          const stored = (await keyring()).current;
          const answer = await su[B].status();
          if (!answer.ready) continue;
          samples++;
          if (answer.keyGeneration < stored) behind.push(`${answer.keyGeneration} < ${stored}`);
        }
        const rotated = await rotation;
        assert.equal(rotated.code, 0, rotated.stderr);
        assert.ok(samples > 3, `only ${samples} status answers during the rotation`);
        assert.deepEqual(behind, [], "B reported a generation the store had moved past");
        console.log(`idle replica: ${samples} status answers during the rotation, none behind`);
        // No write reached B during the rotation: it learns the generation from the store
        // when asked, not at its next Keeper update.
        assert.equal(await readyGeneration(su[B], 60_000), 3);
        const made = await su[A].encrypt(new TextEncoder().encode("made under 3"));
        assert.equal(new TextDecoder().decode(await su[B].decrypt(made)), "made under 3");
        const own = await su[B].encrypt(new TextEncoder().encode("B under 3"));
        assert.equal(new TextDecoder().decode(await su[A].decrypt(own)), "B under 3");
      },
    );

    await t.step(
      "kill -9 of A in the middle of the re-seal: B finishes it, A restarted serves",
      async () => {
        const load = startWriters(su, 2, { tag: "kill", pauseMs: 50, retryMs: 200 });
        const fromA = proc(A).stderr().length;
        const fromB = proc(B).stderr().length;
        const started = su[A].call<RotateResponse>("rootkey.rotate", {}).catch((e) => e);
        await proc(A).waitFor(/"msg":"re-sealing records under the new root key"/, 30_000, fromA);
        await new Promise((r) => setTimeout(r, 100));
        await s.stopNexus("SIGKILL", A);
        const killedAt = performance.now();
        assert.ok((await started) instanceof Error, "the rotate call finished before the kill");
        // An independent look: the store is in the middle of the re-seal, under generation 4.
        const mid = await keyring();
        assert.deepEqual([mid.state, mid.current], ["resealing", 4]);
        // No human step: B notices the unfinished rotation and drives it to the end.
        await proc(B).waitFor(/"msg":"old root key retired"/, 90_000, fromB);
        const tookMs = Math.round(performance.now() - killedAt);
        // B may have joined A's rotation before the kill (its watch): either way it finished it.
        assert.match(proc(B).stderr(), /joining an unfinished root key rotation/);
        assert.match(proc(B).stderr().slice(fromB), /re-sealing records under the new root key/);
        assert.equal(await readyGeneration(su[B], 60_000), 4);
        assert.deepEqual(
          [(await keyring()).state, (await keyring()).current],
          ["stable", 4],
        );
        await s.startNexus({}, A);
        assert.equal(await readyGeneration(su[A], 60_000), 4);
        await new Promise((r) => setTimeout(r, 300));
        await load.stop();
        for (const [k, v] of load.acked) acked.set(k, v);
        assert.ok(load.acked.size > 20, `only ${load.acked.size} writes acknowledged`);
        // Every record is under generation 4: no sealed secret-data record of another is left.
        const dataPrefix = encodeKey(["secret-data"]);
        const stale = await sql(
          `SELECT count(*) FROM spike_kv WHERE substring(k from 1 for ${dataPrefix.length}) = ` +
            `'\\x${hex(dataPrefix)}' AND substring(v from 1 for 5) <> '\\x0200000004'`,
        );
        assert.equal(stale.trim(), "0");
        await assertAllReadable(su, acked);
        await assertAllReadable(su, seeded);
        for (const nexus of su) {
          assert.equal(
            new TextDecoder().decode(await nexus.decrypt(before)),
            "made before rotation",
          );
        }
        console.log(
          `kill -9 mid re-seal: B retired the old key ${tookMs}ms after the kill ` +
            `(update interval ${UPDATE_INTERVAL}); ${load.acked.size} writes acknowledged, ` +
            `${load.failed()} failed (in flight at A or sent to it while dead)`,
        );
      },
    );

    await t.step(
      "destroy through A removes the bytes from PostgreSQL, and B no longer serves them",
      async () => {
        for (const v of [1, 2, 3]) {
          const put = await spikeAt(A, ["secret", "put", "app/db", `pass=${long(`v${v}-marker`)}`]);
          assert.equal(put.code, 0, put.stderr);
        }
        const sealed = new Map<number, Uint8Array>();
        for (const v of [1, 2, 3]) {
          const text = await sql(
            `SELECT encode(v, 'hex') FROM spike_kv WHERE k = '\\x${
              keyHex(["secret-data", "app/db", v, 0])
            }'`,
          );
          sealed.set(v, fromHex(text.trim()));
          assert.ok(sealed.get(v)!.length > 600, `version ${v}'s record was not found`);
        }
        // pg_dump, as an operator would run it: bytea is dumped as hex.
        const dump = async () =>
          (await pg.dump("nexus", ["--data-only", "--table=spike_kv"])).toLowerCase();
        const full = await dump();
        for (const v of [1, 2, 3]) {
          assert.ok(piecesIn(full, sealed.get(v)!).length > 30, `v${v} not in the dump`);
        }
        // The table's own file holds the bytes too (flushed by a checkpoint).
        await sql("CHECKPOINT");
        const tableFile = async () => {
          const rel = (await sql("SELECT pg_relation_filepath('spike_kv')")).trim();
          const bytes = await Deno.readFile(join(pg.dataDir, rel));
          return hex(bytes);
        };
        assert.ok(piecesIn(await tableFile(), sealed.get(2)!).length > 0, "v2 not on disk");
        assert.equal(
          (await spikeAt(B, ["secret", "get", "app/db", "pass", "-v", "2"])).stdout,
          long("v2-marker"),
        );

        const r = await spikeAt(A, ["secret", "destroy", "app/db", "-v", "2", "--yes"]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(piecesIn(await dump(), sealed.get(2)!), []);
        for (const v of [1, 3]) {
          assert.ok(piecesIn(await dump(), sealed.get(v)!).length > 30, `v${v} left the dump`);
        }
        const gone = await spikeAt(B, ["secret", "get", "app/db", "pass", "-v", "2"]);
        assert.equal(gone.code, 3, gone.stdout + gone.stderr);
        const meta = JSON.parse(
          (await spikeAt(B, ["secret", "metadata", "get", "app/db", "-f", "json"])).stdout,
        );
        assert.deepEqual(Object.keys(meta.versions).sort(), ["1", "3"]);
        assert.equal(
          (await spikeAt(B, ["secret", "get", "app/db", "pass", "-v", "1"])).stdout,
          long("v1-marker"),
        );

        // The whole path, through B: A no longer serves any of it.
        const purged = await spikeAt(B, ["secret", "purge", "app/db", "--yes"]);
        assert.equal(purged.code, 0, purged.stderr);
        for (const v of [1, 3]) {
          assert.equal((await spikeAt(A, ["secret", "get", "app/db", "-v", String(v)])).code, 3);
        }
        assert.equal((await spikeAt(A, ["secret", "metadata", "get", "app/db"])).code, 3);
        const after = await dump();
        for (const v of [1, 2, 3]) assert.deepEqual(piecesIn(after, sealed.get(v)!), [], `v${v}`);
        // As the README says: the dead tuples' bytes go from the table's files with VACUUM FULL.
        await sql("VACUUM FULL spike_kv");
        await sql("CHECKPOINT");
        const rewritten = await tableFile();
        for (const v of [1, 2, 3]) {
          assert.deepEqual(piecesIn(rewritten, sealed.get(v)!), [], `v${v} in the table file`);
        }
        assert.deepEqual(await su[A].getSecret("seed/1"), { v: "seed-1" });
      },
    );

    await t.step(
      "backup through B under writes restores into a fresh database both replicas serve",
      async () => {
        const file = join(s.dir, "backup.ndjson");
        const load = startWriters(su, 1, { tag: "backup", pauseMs: 50, retryMs: 200 });
        await new Promise((r) => setTimeout(r, 1_000));
        const startedAt = new Map(load.acked);
        const r = await spikeAt(B, ["operator", "backup", "--output", file]);
        await load.stop();
        assert.equal(r.code, 0, r.stderr);
        assert.ok(startedAt.size > 5, `only ${startedAt.size} writes before the backup`);
        const records = Number(r.stdout.match(/^Backup of (\d+) records/)?.[1]);
        assert.ok(records > seeded.size, r.stdout);

        for (const i of [B, A]) await s.stopNexus("SIGTERM", i);
        const fresh = await pg.createDatabase("restored");
        const onFresh = { SPIKE_NEXUS_DB_URL: fresh };
        await s.startNexus(onFresh, A); // empty store: the key from the Keepers waits, pending
        let restored = await spikeAt(A, ["operator", "restore-backup", "--file", file]);
        for (let i = 0; restored.code === 6 && i < 120; i++) {
          await new Promise((r) => setTimeout(r, 500));
          restored = await spikeAt(A, ["operator", "restore-backup", "--file", file]);
        }
        assert.equal(restored.code, 0, restored.stderr + proc(A).stderr());
        assert.match(restored.stdout, new RegExp(`^Restored ${records} records\\.\\n$`));
        assert.equal(
          (await sql("SELECT count(*) FROM spike_kv", "restored")).trim(),
          String(records),
        );
        await s.startNexus(onFresh, B);
        assert.deepEqual(await Promise.all(su.map((n) => readyGeneration(n, 60_000))), [4, 4]);
        for (const [k, v] of startedAt) acked.set(k, v);
        await assertAllReadable(su, acked);
        await assertAllReadable(su, new Map([...seeded].slice(0, 100)));
        for (const nexus of su) {
          assert.equal(
            new TextDecoder().decode(await nexus.decrypt(before)),
            "made before rotation",
          );
        }
        // The restored store takes writes through either replica and is apart from the old one.
        await su[B].putSecret("after/restore", { k: "1" });
        assert.deepEqual(await su[A].getSecret("after/restore"), { k: "1" });
        assert.equal(
          (await sql(
            `SELECT count(*) FROM spike_kv WHERE k = '\\x${
              keyHex(["secret-meta", "after/restore"])
            }'`,
          )).trim(),
          "0",
        );
      },
    );
  } finally {
    for (const close of closers) close();
    await stack?.stop();
    await pg.close();
  }
});
