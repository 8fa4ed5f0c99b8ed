/**
 * `deno task nexus migrate`, end to end: a single Nexus on kv (and on
 * sqlite) is bootstrapped and filled; it is stopped; the task copies its
 * store into an empty PostgreSQL database (through the launcher's grants,
 * from a folder outside the checkout, with a cleared environment); a copy
 * into a database that is no longer empty is refused; then a Nexus on
 * PostgreSQL with the same Keepers gets the same root key back and serves
 * every secret with every version, its metadata and the policies.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { NexusClient } from "../lib/client/nexus.ts";
import { nexusAs, untilServed } from "./support/clients.ts";
import { within } from "./support/programs.ts";
import { PgCluster, POSTGRES_BIN } from "./support/postgres.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");

/** `deno task -q nexus ...args` from `cwd` with only `env` (and PATH, HOME, DENO_DIR). */
async function nexusTask(args: string[], cwd: string, env: Record<string, string>) {
  const out = await within(
    new Deno.Command("deno", {
      args: ["task", "-q", "--config", join(ROOT, "deno.json"), "nexus", ...args],
      cwd,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH")!, HOME: cwd, DENO_DIR, NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output(),
    120_000,
    "nexus migrate finishing",
  );
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Everything a client can see: secrets (every version, metadata) and policies. */
async function snapshot(nexus: NexusClient) {
  const secrets: Record<string, unknown> = {};
  for (const path of (await nexus.listSecrets()).sort()) {
    const meta = await nexus.getSecretMetadata(path);
    const versions: Record<string, unknown> = {};
    for (const [v, info] of Object.entries(meta.versions ?? {})) {
      versions[v] = (info as { deletedTime?: unknown }).deletedTime
        ? "deleted"
        : await nexus.getSecret(path, Number(v));
    }
    secrets[path] = { meta, versions };
  }
  const policies = (await nexus.listPolicies()).sort((a, b) => a.name.localeCompare(b.name));
  return { secrets, policies };
}

Deno.test("nexus migrate: a kv or sqlite store into PostgreSQL, served under the same root key", {
  ignore: !POSTGRES_BIN,
}, async (t) => {
  const pg = await PgCluster.start();
  try {
    for (const backend of ["kv", "sqlite"] as const) {
      await t.step(`from ${backend}`, async () => {
        const stack = await Stack.start({ backend });
        const closers: (() => void)[] = [];
        try {
          const { nexus: before, close } = await nexusAs(stack, "pilot");
          closers.push(close);
          await untilServed(() => before.listSecrets(), 60_000);
          for (const pass of ["p1", "p2", "p3"]) await before.putSecret("app/db", { pass });
          await before.deleteSecret("app/db", [2]);
          // Larger than one Deno KV value: the kv backend stores it in parts.
          await before.putSecret("app/big", { blob: "x".repeat(200 * 1024) });
          for (let i = 0; i < 25; i++) await before.putSecret(`many/${i}`, { i: String(i) });
          await before.putPolicy({
            name: "a-reads-app",
            spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
            pathPattern: "^app/",
            permissions: ["read"],
          });
          const expected = await snapshot(before);
          assert.equal(Object.keys(expected.secrets).length, 27);
          assert.deepEqual((expected.secrets["app/db"] as { versions: unknown }).versions, {
            1: { pass: "p1" },
            2: "deleted",
            3: { pass: "p3" },
          });
          assert.equal(expected.policies.length, 1);
          await stack.stopNexus("SIGTERM");

          const url = await pg.createDatabase(`from_${backend}`);
          const passwordFile = join(stack.dir, "pg.pass");
          await Deno.writeTextFile(passwordFile, pg.password, { mode: 0o600 });
          const pgEnv = { SPIKE_NEXUS_DB_URL: url, SPIKE_NEXUS_DB_PASSWORD_FILE: passwordFile };
          // Relative to the caller's folder, as a user would type it.
          const from = `${backend}:${stack.dataDir.slice(stack.dir.length + 1)}`;

          const wrong = await nexusTask(
            ["migrate", "--from", `${backend === "kv" ? "sqlite" : "kv"}:${stack.dataDir}`],
            stack.dir,
            pgEnv,
          );
          assert.equal(wrong.code, 1, wrong.stderr);
          assert.match(wrong.stderr, /^nexus: there is no (kv|sqlite) store in .*\n$/);

          const copied = await nexusTask(["migrate", "--from", from], stack.dir, pgEnv);
          assert.equal(copied.code, 0, copied.stderr);
          assert.match(copied.stdout, /^copied \d+ records \(.*\d+ secret-meta.*\) from the/);
          assert.match(copied.stdout, /verified: the database holds exactly the source's records/);
          assert.ok(!copied.stdout.includes(pg.password) && !copied.stderr.includes(pg.password));
          console.log(copied.stdout.split("\n")[0]);
          const records = Number(/^copied (\d+)/.exec(copied.stdout)![1]);
          const rows = async () =>
            Number(await pg.psql("SELECT count(*) FROM spike_kv", `from_${backend}`));
          assert.equal(await rows(), records);

          const again = await nexusTask(["migrate", "--from", from], stack.dir, pgEnv);
          assert.equal(again.code, 1);
          assert.equal(
            again.stderr,
            `nexus: the PostgreSQL database already holds ${records} records: migrate only ` +
              "into an empty database (nothing was written)\n",
          );
          assert.equal(await rows(), records);

          // The same Keepers, now a Nexus on PostgreSQL: the same key, the same data.
          const nexus = await stack.startNexus({ SPIKE_NEXUS_BACKEND_STORE: "postgres", ...pgEnv });
          const { nexus: after, close: closeAfter } = await nexusAs(stack, "pilot");
          closers.push(closeAfter);
          await untilServed(() => after.listSecrets(), 60_000);
          assert.match(nexus.stderr(), /"backend":"postgres"/);
          // Logged just after the key is ready: its line may reach us after the first answer.
          await nexus.waitFor(/root key recovered from keepers/, 10_000);
          assert.deepEqual(await snapshot(after), expected);
          // The policy governs on the new store, and the store takes new versions.
          const { nexus: a, close: closeA } = await nexusAs(stack, "workload-a");
          closers.push(closeA);
          assert.deepEqual(await a.getSecret("app/db"), { pass: "p3" });
          await after.putSecret("app/db", { pass: "p4" });
          const meta = await after.getSecretMetadata("app/db");
          assert.equal(meta.metadata?.currentVersion, 4);
        } finally {
          for (const close of closers) close();
          await stack.stop();
        }
      });
    }
  } finally {
    await pg.close();
  }
});
