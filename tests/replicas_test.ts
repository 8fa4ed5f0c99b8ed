/**
 * Several Nexus replicas on one PostgreSQL, sharing three Keepers, as separate processes with
 * their launcher grants: one first bootstrap makes one key every replica serves; data and
 * policies written through one replica govern the next request on another; concurrent
 * writers spread over the replicas lose no version; with one replica killed, Pilot given
 * every URL keeps reading and writing.
 */

import assert from "node:assert/strict";
import { ApiResponseError } from "../lib/client/errors.ts";
import { NexusClient } from "../lib/client/nexus.ts";
import { shareAt } from "../lib/crypto/shamir.ts";
import { agentAs, keeperAs, untilServed } from "./support/clients.ts";
import { PgCluster, POSTGRES_BIN } from "./support/postgres.ts";
import { type Identity, type Proc, Stack } from "./support/stack.ts";

const REPLICAS = 3;
/** `SPIKE_NEXUS_DB_OPERATION_TIMEOUT` of every replica here. */
const OPERATION_TIMEOUT_MS = 5_000;

/** Whether the process is still running. */
async function alive(proc: Proc): Promise<boolean> {
  return await Promise.race([
    proc.status.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 50)),
  ]);
}

Deno.test("three Nexus replicas on one PostgreSQL serve as one", {
  ignore: !POSTGRES_BIN,
}, async (t) => {
  const pg = await PgCluster.start();
  let stack: Stack | undefined;
  const closers: (() => void)[] = [];
  try {
    stack = await Stack.start({
      backend: "postgres",
      bootstrap: false,
      nexusEnv: { SPIKE_NEXUS_DB_OPERATION_TIMEOUT: `${OPERATION_TIMEOUT_MS}ms` },
      postgres: {
        hostPort: pg.hostPort,
        url: await pg.createDatabase("nexus"),
        password: pg.password,
      },
    });
    const s = stack;
    for (let i = 0; i < 3; i++) await s.startKeeper(i);
    // All replicas up before the first bootstrap (they race to assemble the first key).
    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => s.startNexus({}, i)));
    const urls = Array.from({ length: REPLICAS }, (_, i) => s.replicaUrl(i));

    /** A client of replica `i` only (no failover), with `identity`. */
    const clientOf = async (identity: Identity, i: number) => {
      const { agent, close } = await agentAs(s, identity, "nexus");
      closers.push(close);
      return new NexusClient({ url: s.replicaUrl(i), agent, timeoutMs: 10_000, readAttempts: 1 });
    };
    const su = await Promise.all(urls.map((_, i) => clientOf("pilot", i)));

    await t.step("Bootstrap pointed at one replica: every replica serves the one key", async () => {
      const boot = await s.runBootstrap({ SPIKE_NEXUS_API_URL: urls[0] });
      assert.equal(boot.code, 0, boot.stderr);
      // The others learn it from the Keepers and the database's key-check record.
      const deadline = Date.now() + 30_000;
      for (const [i, nexus] of su.entries()) {
        while (true) {
          try {
            await nexus.listSecrets();
            break;
          } catch (e) {
            if (!(e instanceof ApiResponseError && e.status === 503) || Date.now() > deadline) {
              throw new Error(`replica ${i} never served: ${e}`);
            }
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
      // One key: what one replica encrypts, every other decrypts.
      const sealed = await su[0].encrypt(new TextEncoder().encode("one key"));
      for (const nexus of su) {
        assert.equal(new TextDecoder().decode(await nexus.decrypt(sealed)), "one key");
      }
      for (let i = 1; i < REPLICAS; i++) {
        assert.match(s.replicas.get(i)!.stderr(), /root key recovered from keepers/);
      }
    });

    await t.step("a secret written through one replica is read through another", async () => {
      await su[0].putSecret("app/db", { user: "u", pass: "p1" });
      assert.deepEqual(await su[1].getSecret("app/db"), { user: "u", pass: "p1" });
      await su[2].putSecret("app/db", { user: "u", pass: "p2" });
      assert.deepEqual(await su[0].getSecret("app/db"), { user: "u", pass: "p2" });
      assert.deepEqual(await su[1].getSecret("app/db", 1), { user: "u", pass: "p1" });
    });

    await t.step(
      "a policy created, changed or deleted on one replica governs the next request on another",
      async () => {
        const a = await clientOf("workload-a", 1);
        const denied = (p: Promise<unknown>) =>
          assert.rejects(p, (e: unknown) => e instanceof ApiResponseError && e.status === 401);
        await denied(a.getSecret("app/db"));
        await su[0].putPolicy({
          name: "a-reads-app",
          spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
          pathPattern: "^app/",
          permissions: ["read"],
        });
        assert.deepEqual(await a.getSecret("app/db"), { user: "u", pass: "p2" });
        // Replica 1 now holds the policy set in memory: a change through another replica
        // still governs its very next request.
        await su[2].putPolicy({
          name: "a-reads-app",
          spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
          pathPattern: "^elsewhere/",
          permissions: ["read"],
        });
        await denied(a.getSecret("app/db"));
        await su[0].putPolicy({
          name: "a-reads-app",
          spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
          pathPattern: "^app/",
          permissions: ["read"],
        });
        assert.deepEqual(await a.getSecret("app/db"), { user: "u", pass: "p2" });
        await su[2].deletePolicy("a-reads-app");
        await denied(a.getSecret("app/db"));
      },
    );

    await t.step("concurrent writers spread over the replicas lose no version", async () => {
      const writers = 30;
      await Promise.all(
        Array.from(
          { length: writers },
          (_, w) => su[w % REPLICAS].putSecret("app/race", { w: String(w) }),
        ),
      );
      const meta = await su[1].getSecretMetadata("app/race");
      assert.equal(meta.metadata?.currentVersion, writers);
      // Every kept version holds a different writer's value.
      const kept = Object.keys(meta.versions ?? {}).map(Number);
      assert.ok(kept.length > 1);
      const values = await Promise.all(kept.map((v) => su[v % REPLICAS].getSecret("app/race", v)));
      assert.equal(new Set(values.map((v) => v.w)).size, kept.length);
    });

    await t.step(
      "every replica seeded the Keepers: they hold shares of one polynomial",
      async () => {
        const { keepers, close } = await keeperAs(s, "nexus");
        closers.push(close);
        const shares = await Promise.all(s.keeperUrls.map((url) => keepers.shard(url)));
        assert.ok(shares.every((x) => x !== null));
        const [one, two, three] = shares as Uint8Array[];
        assert.deepEqual(await shareAt([one, two], 3), three);
        assert.deepEqual(await shareAt([two, three], 1), one);
      },
    );

    await t.step(
      "one replica killed: Pilot given every URL keeps reading and writing",
      async () => {
        await s.stopNexus("SIGKILL", 1);
        // The dead replica first in the list: every command meets it.
        const env = { SPIKE_NEXUS_API_URL: [urls[1], urls[0], urls[2]].join(",") };
        const put = await s.spike("pilot", ["secret", "put", "app/after", "k=v"], { env });
        assert.equal(put.code, 0, put.stderr);
        const get = await s.spike("pilot", ["secret", "get", "app/after", "k"], { env });
        assert.equal(get.code, 0, get.stderr);
        assert.equal(get.stdout.trim(), "v");
        // Written once: the write did not reach the dead replica, then went to a live one.
        assert.equal((await su[2].getSecretMetadata("app/after")).metadata?.currentVersion, 1);
        // Only the dead one listed: the user is told it cannot be reached.
        const alone = await s.spike("pilot", ["secret", "get", "app/after", "k"], {
          env: { SPIKE_NEXUS_API_URL: urls[1] },
        });
        assert.notEqual(alone.code, 0);
        assert.match(alone.stderr, /cannot reach SPIKE Nexus/);
        // Started again, it joins by itself (Keepers and database) and serves what was written.
        await s.startNexus({}, 1);
        const back = await clientOf("pilot", 1);
        let got: Record<string, string> | undefined;
        for (let i = 0; i < 150 && !got; i++) {
          got = await back.getSecret("app/after").catch(async (e) => {
            if (!(e instanceof ApiResponseError && e.status === 503)) throw e;
            await new Promise((r) => setTimeout(r, 200));
            return undefined;
          });
        }
        assert.deepEqual(got, { k: "v" });
      },
    );

    await t.step(
      "kill -9 of a replica mid-load: clients with every URL lose no acknowledged write",
      async () => {
        const { agent, close } = await agentAs(s, "pilot", "nexus");
        closers.push(close);
        // Each writer starts at another replica; replica 2 dies under them.
        const writers = [0, 1, 2].map((w) =>
          new NexusClient({
            url: [0, 1, 2].map((i) => urls[(w + i) % 3]),
            agent,
            timeoutMs: 10_000,
          })
        );
        const acked: string[] = [];
        const failed: string[] = [];
        let ackedAfterKill = 0;
        let killed = false;
        const stopAt = Date.now() + 4_000;
        const load = writers.map(async (nexus, w) => {
          for (let i = 0; Date.now() < stopAt; i++) {
            const path = `load/w${w}/${i}`;
            try {
              await nexus.putSecret(path, { i: String(i) });
              acked.push(path);
              if (killed) ackedAfterKill++;
            } catch (e) {
              // Only a write that may have reached the dying replica may fail; it is not retried.
              assert.ok(!(e instanceof ApiResponseError), String(e));
              failed.push(path);
            }
          }
        });
        await new Promise((r) => setTimeout(r, 1_000));
        await s.stopNexus("SIGKILL", 2);
        killed = true;
        await Promise.all(load);
        assert.ok(ackedAfterKill > 0, "no write succeeded after the kill");
        assert.ok(failed.length <= writers.length, `failed: ${failed.join(",")}`);
        const stored = new Set(await su[0].listSecrets());
        const lost = acked.filter((p) => !stored.has(p));
        assert.deepEqual(lost, [], "acknowledged writes lost");
        console.log(
          `mid-load kill: ${acked.length} writes acknowledged (${ackedAfterKill} after), ` +
            `${failed.length} failed in flight`,
        );
      },
    );

    await t.step(
      "a replica started while PostgreSQL is down waits for it, says so once, then serves",
      async () => {
        await pg.pause();
        const late = await s.startNexus({}, 2, /database unreachable at start; waiting for it/);
        let ended = false;
        late.status.then(() => ended = true);
        // Several attempts with backoff meanwhile, but one line and no exit.
        await new Promise((r) => setTimeout(r, 3_000));
        assert.ok(!ended, late.stderr());
        assert.equal(late.stderr().match(/database unreachable/g)?.length, 1, late.stderr());
        assert.doesNotMatch(late.stderr(), /"msg":"listening"/);
        await pg.resume();
        await late.waitFor(/"msg":"listening"/, 30_000);
        assert.match(late.stderr(), /"msg":"database reachable"/);
        const back = await clientOf("pilot", 2);
        assert.deepEqual(await untilServed(() => back.getSecret("app/after")), { k: "v" });
      },
    );

    await t.step(
      "PostgreSQL restarted mid-load: 503 within the timeout while down, then everything " +
        "resumes, and no acknowledged write is lost",
      async () => {
        const { agent, close } = await agentAs(s, "pilot", "nexus");
        closers.push(close);
        const writers = [0, 1, 2].map((w) =>
          new NexusClient({
            url: [0, 1, 2].map((i) => urls[(w + i) % 3]),
            agent,
            timeoutMs: 20_000,
          })
        );
        let phase: "up" | "down" | "back" = "up";
        let stop = false;
        const acked = new Map<string, string>();
        const ackedIn = { up: 0, down: 0, back: 0 };
        const refused: number[] = []; // how long each failed request took, ms
        const unexpected: string[] = [];
        const load = writers.map(async (nexus, w) => {
          for (let i = 0; !stop; i++) {
            const path = `restart/w${w}/${i}`;
            const value = `${w}-${i}-${crypto.randomUUID()}`;
            const started = performance.now();
            try {
              await nexus.putSecret(path, { v: value });
              acked.set(path, value);
              ackedIn[phase]++;
            } catch (e) {
              // Nexus stays up: the database's absence is a 503, never a 500 or a hang.
              if (e instanceof ApiResponseError && e.code === "state_not_ready") {
                refused.push(performance.now() - started);
              } else unexpected.push(`${path}: ${e}`);
              await new Promise((r) => setTimeout(r, 50));
            }
          }
        });
        try {
          await new Promise((r) => setTimeout(r, 1_500));
          await pg.pause();
          phase = "down";
          // Reads too: every replica answers 503 at once (the client tries each).
          const started = performance.now();
          await assert.rejects(
            su[1].getSecret("app/db"),
            (e: unknown) => e instanceof ApiResponseError && e.status === 503,
          );
          assert.ok(performance.now() - started < OPERATION_TIMEOUT_MS, "a read hung");
          await new Promise((r) => setTimeout(r, 2_000));
          await pg.resume();
          phase = "back";
          const until = Date.now() + 30_000;
          while (ackedIn.back < 30 && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          stop = true;
          await Promise.all(load);
        }
        for (const i of [0, 1, 2]) {
          const proc = i === 0 ? s.nexus! : s.replicas.get(i)!;
          assert.ok(await alive(proc), `replica ${i} ended:\n${proc.stderr().slice(-3000)}`);
        }
        assert.deepEqual(unexpected, [], "failures other than 503");
        assert.ok(ackedIn.back >= 30, `only ${ackedIn.back} writes after the restart`);
        assert.ok(refused.length > 0, "no write met the stopped database");
        const slowest = Math.max(...refused);
        assert.ok(slowest < OPERATION_TIMEOUT_MS + 2_000, `a failed write took ${slowest}ms`);
        // Every acknowledged write is there, with its value, through every replica.
        const paths = [...acked.keys()];
        const stored = new Set(await su[2].listSecrets());
        assert.deepEqual(paths.filter((p) => !stored.has(p)), [], "acknowledged writes lost");
        for (let i = 0; i < paths.length; i += 20) {
          await Promise.all(
            paths.slice(i, i + 20).map(async (path, j) => {
              const got = await su[(i + j) % REPLICAS].getSecret(path);
              assert.equal(got.v, acked.get(path), path);
            }),
          );
        }
        for (const i of [1, 2]) {
          assert.match(s.replicas.get(i)!.stderr(), /database unreachable; requests answer 503/);
        }
        console.log(
          `PostgreSQL restart mid-load: ${acked.size} writes acknowledged (${ackedIn.up} before, ` +
            `${ackedIn.down} while stopping, ${ackedIn.back} after), ${refused.length} answered ` +
            `503 (slowest ${Math.round(slowest)}ms), 0 lost`,
        );
      },
    );

    await t.step(
      "PostgreSQL not answering: 503 at the operation timeout, never later; then it resumes",
      async () => {
        await su[0].getSecret("app/db");
        await pg.freeze();
        let times: number[];
        try {
          times = await Promise.all(su.map(async (nexus) => {
            const started = performance.now();
            await assert.rejects(
              nexus.getSecret("app/db"),
              (e: unknown) => e instanceof ApiResponseError && e.status === 503,
            );
            return Math.round(performance.now() - started);
          }));
        } finally {
          await pg.thaw();
        }
        for (const ms of times) {
          assert.ok(ms >= OPERATION_TIMEOUT_MS - 500, `answered in ${ms}ms: not a timeout`);
          assert.ok(ms < OPERATION_TIMEOUT_MS + 3_000, `answered after ${ms}ms`);
        }
        for (const nexus of su) {
          assert.deepEqual(await untilServed(() => nexus.getSecret("app/db")), {
            user: "u",
            pass: "p2",
          });
        }
        console.log(`PostgreSQL frozen: every replica answered 503 after ${times.join(", ")}ms`);
      },
    );

    await t.step(
      "break-the-glass restore through one replica brings the others back",
      async () => {
        const recoverer = await clientOf("pilot-recover", 0);
        const shares = await recoverer.recover();
        // Everything lost but the database: every Keeper and every replica.
        for (let i = 0; i < REPLICAS; i++) await s.stopNexus("SIGKILL", i);
        for (let i = 0; i < 3; i++) {
          await s.stopKeeper(i, "SIGKILL");
          await s.startKeeper(i);
        }
        await Promise.all(Array.from({ length: REPLICAS }, (_, i) => s.startNexus({}, i)));
        await new Promise((r) => setTimeout(r, 1_000));
        for (const nexus of su) {
          await assert.rejects(
            nexus.getSecret("app/db"),
            (e: unknown) => e instanceof ApiResponseError && e.status === 503,
          );
        }
        // The operator restores through replica 1 only.
        const restorer = await clientOf("pilot-restore", 1);
        await restorer.restore(shares[2]);
        const done = await restorer.restore(shares[0]);
        assert.equal(done.restored, true);
        const started = performance.now();
        // Replica 1 re-seeded the Keepers; the others find the key there by themselves.
        for (const i of [0, 2, 1]) {
          assert.deepEqual(await untilServed(() => su[i].getSecret("app/db"), 60_000), {
            user: "u",
            pass: "p2",
          });
        }
        const tookMs = Math.round(performance.now() - started);
        for (const i of [0, 2]) {
          const proc = i === 0 ? s.nexus! : s.replicas.get(i)!;
          assert.match(proc.stderr(), /root key recovered from keepers/);
        }
        console.log(`restore through one replica: the other two served after ${tookMs}ms`);
      },
    );

    await t.step(
      "a replica reaching PostgreSQL over its unix socket joins and serves",
      async () => {
        // libpq's form: the host is the socket's folder; the launcher grants that socket file only.
        const local = await s.startNexus({
          SPIKE_NEXUS_DB_URL: `host=${pg.dir} port=${pg.port} user=${pg.user} dbname=nexus`,
        }, 3);
        const viaSocket = await clientOf("pilot", 3);
        assert.deepEqual(await untilServed(() => viaSocket.getSecret("app/db")), {
          user: "u",
          pass: "p2",
        });
        await viaSocket.putSecret("app/socket", { k: "1" });
        assert.deepEqual(await su[0].getSecret("app/socket"), { k: "1" });
        assert.match(local.stderr(), /root key recovered from keepers/);
      },
    );
  } finally {
    for (const close of closers) close();
    await stack?.stop();
    await pg.close();
  }
});
