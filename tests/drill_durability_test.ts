/**
 * Fault drill: kill -9 of Nexus under sustained concurrent writes, on each
 * persistent backend (kv, sqlite, and postgres on a throwaway cluster; the
 * PostgreSQL replicas have their own in replicas_test.ts). Sixteen writers put to shared and to their own paths;
 * Nexus is killed mid-load and started again (it gets its root key back from
 * the Keepers by itself). Every acknowledged write must be readable with its
 * value, and every shared path must hold at least as many versions as writes
 * to it were acknowledged (a compare-and-set commit per write: none lost).
 */

import assert from "node:assert/strict";
import { nexusAs, untilServed } from "./support/clients.ts";
import { PgCluster, POSTGRES_BIN } from "./support/postgres.ts";
import { Stack } from "./support/stack.ts";

const WRITERS = 16;
const SHARED = 4;

for (const backend of ["kv", "sqlite", "postgres"] as const) {
  Deno.test({
    name: `kill -9 of Nexus (${backend}) under 16 writers: no acknowledged write lost`,
    ignore: backend === "postgres" && !POSTGRES_BIN,
  }, async () => {
    const pg = backend === "postgres" ? await PgCluster.start() : undefined;
    const stack = await Stack.start({
      backend,
      nexusEnv: { SPIKE_NEXUS_MAX_SECRET_VERSIONS: "1000" },
      ...(pg
        ? {
          postgres: {
            hostPort: pg.hostPort,
            url: await pg.createDatabase("nexus"),
            password: pg.password,
          },
        }
        : {}),
    });
    const pilot = await nexusAs(stack, "pilot");
    try {
      const own = new Map<string, string>(); // acknowledged path -> value
      const sharedAcks = new Map<string, number>();
      const sharedTried = new Map<string, number>();
      let failed = 0;
      let stop = false;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const shared = i % 2 === 0;
          const path = shared ? `drill/shared/${(w + i) % SHARED}` : `drill/own/${w}/${i}`;
          const value = `${w}.${i}`;
          if (shared) sharedTried.set(path, (sharedTried.get(path) ?? 0) + 1);
          try {
            await pilot.nexus.putSecret(path, { value });
            if (shared) sharedAcks.set(path, (sharedAcks.get(path) ?? 0) + 1);
            else own.set(path, value);
          } catch {
            failed++; // Nexus down or dying: not acknowledged, so not promised
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      });
      await new Promise((r) => setTimeout(r, 2000));
      // Under load the first writes can take longer: the kill must come after some were acknowledged.
      for (let waited = 0; own.size === 0; waited += 100) {
        assert.ok(waited < 60_000, "no write to an own path was acknowledged within a minute");
        await new Promise((r) => setTimeout(r, 100));
      }
      const ackedBeforeKill = own.size + [...sharedAcks.values()].reduce((a, b) => a + b, 0);
      await stack.stopNexus("SIGKILL");
      const started = performance.now();
      await stack.startNexus();
      const first = [...own.keys()][0];
      await untilServed(() => pilot.nexus.getSecret(first), 60_000, "Nexus back after kill -9");
      const recoveryMs = performance.now() - started;
      await new Promise((r) => setTimeout(r, 1000)); // writes after the restart too
      stop = true;
      await Promise.all(writers);

      const lost: string[] = [];
      for (const [path, value] of own) {
        const got = await pilot.nexus.getSecret(path).catch(() => undefined);
        if (got?.value !== value) lost.push(path);
      }
      for (const [path, acks] of sharedAcks) {
        const meta = await pilot.nexus.getSecretMetadata(path);
        const current = meta.metadata.currentVersion;
        if (current < acks) lost.push(`${path}: ${current} versions for ${acks} acknowledged`);
        assert.ok(current <= sharedTried.get(path)!, `${path}: more versions than writes`);
      }
      const acked = own.size + [...sharedAcks.values()].reduce((a, b) => a + b, 0);
      console.log(
        `drill durability (${backend}): ${acked} writes acknowledged (${ackedBeforeKill} before ` +
          `the kill), ${lost.length} lost, ${failed} refused while down; back in ` +
          `${Math.round(recoveryMs)} ms`,
      );
      assert.deepEqual(lost, [], "acknowledged writes lost");
      assert.ok(acked > ackedBeforeKill, "no write acknowledged after the restart");
    } finally {
      pilot.close();
      await stack.stop();
      await pg?.close();
    }
  });
}
