/**
 * `spike operator backup` and `restore-backup` end to end (kv and sqlite): a
 * backup taken while four writers keep writing, restored into a fresh Nexus
 * (empty store, the same Keepers, so the same root key), serves every write
 * acknowledged before the backup began, and every path it lists is whole; the
 * file is 0600 and holds no value in clear; a second restore without --force
 * is refused; a Nexus with another root key refuses the backup and keeps what
 * it had; a damaged file is refused before it is sent. After a rotation, a
 * backup restores into a fresh Nexus that gets the new key from the Keepers,
 * and cipher text made before the rotation still decrypts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ApiResponseError } from "../lib/client/errors.ts";
import { nexusAs } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

const WRITERS = 4;

/** Runs `spike` until Nexus stops answering "not ready" (exit 6), for at most 60 s. */
async function whenReady(
  stack: Stack,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const until = Date.now() + 60_000;
  for (;;) {
    const r = await stack.spike("pilot", args);
    if (r.code !== 6 || Date.now() > until) return r;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

for (const backend of ["kv", "sqlite"] as const) {
  Deno.test(`backup under concurrent writes restores into a fresh ${backend} Nexus`, async (t) => {
    const stack = await Stack.start({ backend });
    const other = await Stack.start({ backend });
    const file = join(stack.dir, "backup.ndjson");
    try {
      const put = await stack.spike("pilot", ["secret", "put", "app/db", "pass=Hunter2-clear"]);
      assert.equal(put.code, 0, put.stderr);
      const policy = await stack.spike("pilot", [
        "policy",
        "create",
        "--name",
        "reader",
        "--spiffeid-pattern",
        "^spiffe://spike\\.ist/workload/a$",
        "--path-pattern",
        "^app/",
        "--permissions",
        "read",
      ]);
      assert.equal(policy.code, 0, policy.stderr);

      // Writers: new paths (each acknowledged one must come back) and versions of one shared path.
      const acked: { path: string; value: string; at: number }[] = [];
      let stop = false;
      const { nexus, close } = await nexusAs(stack, "pilot");
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        for (let n = 0; !stop; n++) {
          const path = n % 3 === 0 ? "load/shared" : `load/w${w}/${n}`;
          const value = `plain-${w}-${n}-value`;
          await nexus.putSecret(path, { v: value });
          acked.push({ path, value, at: performance.now() });
        }
      });
      let started = 0;
      await t.step("the backup is taken while the writers write", async () => {
        await new Promise((r) => setTimeout(r, 1500));
        started = performance.now();
        const r = await stack.spike("pilot", ["operator", "backup", "--output", file]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^Backup of \d+ records written to .*backup\.ndjson\.\n$/);
        const during = acked.filter((a) => a.at > started).length;
        await new Promise((r) => setTimeout(r, 500));
        stop = true;
        await Promise.all(writers);
        assert.ok(during > 0, "no write was acknowledged while the backup was taken");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        const text = await Deno.readTextFile(file);
        assert.doesNotMatch(text, /Hunter2|plain-\d/, "a value in clear reached the backup");
        const again = await stack.spike("pilot", ["operator", "backup", "-o", file]);
        assert.equal(again.code, 7, "an existing file was replaced");
        assert.match(again.stderr, /exists; a backup never replaces a file/);
      });
      close();
      const before = acked.filter((a) => a.at < started);
      assert.ok(before.length > 20, `only ${before.length} writes before the backup`);

      await t.step("a Nexus with another root key refuses it and keeps its data", async () => {
        assert.equal((await other.spike("pilot", ["secret", "put", "b/own", "k=v"])).code, 0);
        for (const extra of [[], ["--force"]]) {
          const r = await other.spike("pilot", [
            "operator",
            "restore-backup",
            "-f",
            file,
            ...extra,
          ]);
          assert.equal(r.code, 5, r.stderr);
          assert.match(r.stderr, /made under another root key, or it is damaged; nothing was/);
        }
        assert.match(other.nexus!.stderr(), /made under another root key than this Nexus holds/);
        const list = await other.spike("pilot", ["secret", "list", "-f", "json"]);
        assert.deepEqual(JSON.parse(list.stdout), ["b/own"]);
        assert.equal((await other.spike("pilot", ["secret", "get", "b/own", "k"])).stdout, "v");
        assert.equal((await other.spike("pilot", ["policy", "list", "-f", "json"])).stdout, "[]\n");
      });

      await t.step("a damaged file is refused before it is sent", async () => {
        const bytes = await Deno.readFile(file);
        const damaged = join(stack.dir, "damaged.ndjson");
        await Deno.writeFile(damaged, bytes.subarray(0, bytes.length - 10));
        const r = await other.spike("pilot", ["operator", "restore-backup", "-f", damaged]);
        assert.equal(r.code, 5);
        assert.match(r.stderr, /not a usable backup: .*digest does not match/);
      });

      await t.step("a fresh Nexus with the same Keepers takes it and serves", async () => {
        await stack.stopNexus();
        await Deno.rename(stack.dataDir, `${stack.dataDir}-old`);
        await stack.startNexus(); // empty store: the key from the Keepers waits, pending
        const r = await whenReady(stack, ["operator", "restore-backup", "--file", file]);
        assert.equal(r.code, 0, r.stderr + stack.nexus!.stderr());
        assert.match(r.stdout, /^Restored \d+ records\.\n$/);
        const { nexus: fresh, close: closeFresh } = await nexusAs(stack, "pilot");
        try {
          const latest = new Map<string, string>();
          for (const a of before) latest.set(a.path, a.value);
          for (const [path, value] of latest) {
            if (path === "load/shared") continue;
            assert.deepEqual(await fresh.getSecret(path), { v: value }, path);
          }
          // Every path is whole: its current version and every kept version read.
          for (const path of await fresh.listSecrets()) {
            const meta = await fresh.getSecretMetadata(path);
            for (const v of Object.keys(meta.versions ?? {})) {
              await fresh.getSecret(path, Number(v));
            }
          }
          const shared = await fresh.getSecretMetadata("load/shared");
          const sharedBefore = before.filter((a) => a.path === "load/shared").length;
          assert.ok(shared.metadata!.currentVersion >= sharedBefore, "a shared version was lost");
          assert.deepEqual(await fresh.getSecret("app/db"), { pass: "Hunter2-clear" });
          assert.equal((await fresh.getPolicy("reader")).name, "reader");
        } finally {
          closeFresh();
        }
        const status = JSON.parse((await stack.spike("pilot", ["status", "-f", "json"])).stdout);
        assert.equal(status.ready, true);
      });

      await t.step("a second restore without --force is refused and changes nothing", async () => {
        assert.equal((await stack.spike("pilot", ["secret", "put", "after/x", "k=1"])).code, 0);
        const r = await stack.spike("pilot", ["operator", "restore-backup", "-f", file]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /already holds secrets or policies; nothing was written/);
        assert.equal((await stack.spike("pilot", ["secret", "get", "after/x", "k"])).stdout, "1");
        const forced = await stack.spike("pilot", [
          "operator",
          "restore-backup",
          "-f",
          file,
          "--force",
        ]);
        assert.equal(forced.code, 0, forced.stderr);
        assert.match(forced.stdout, /records of the store replaced or removed/);
        assert.equal((await stack.spike("pilot", ["secret", "get", "after/x"])).code, 3);
      });

      await t.step("a caller without the superuser role gets the forbidden answer", async () => {
        const { nexus: a, close: closeA } = await nexusAs(stack, "workload-a");
        try {
          // The file is read first: a call started before an await could reject unobserved.
          const bytes = await Deno.readFile(file);
          for (const call of [() => a.backup(), () => a.restoreBackup(bytes)]) {
            await assert.rejects(call, (e: unknown) => {
              assert.ok(e instanceof ApiResponseError);
              assert.equal(`${e.status} ${e.code}`, "401 access_unauthorized");
              return true;
            });
          }
        } finally {
          closeA();
        }
      });
    } finally {
      await other.stop();
      await stack.stop();
    }
  });
}

Deno.test("after a rotation, a backup restores into a fresh Nexus that the Keepers give the new key", async () => {
  const stack = await Stack.start({ backend: "kv" });
  const file = join(stack.dir, "rotated.ndjson");
  try {
    assert.equal((await stack.spike("pilot", ["secret", "put", "app/db", "pass=one"])).code, 0);
    assert.equal((await stack.spike("pilot", ["secret", "put", "app/db", "pass=two"])).code, 0);
    const admin = await nexusAs(stack, "pilot");
    let sealed;
    try {
      sealed = await admin.nexus.encrypt(new TextEncoder().encode("made before rotation"));
    } finally {
      admin.close();
    }
    const rotated = await stack.spike("pilot", ["operator", "rotate"]);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /generation 2 is in use, 1 is retired/);
    const backup = await stack.spike("pilot", ["operator", "backup", "--output", file]);
    assert.equal(backup.code, 0, backup.stderr);

    // The store is lost; the Keepers still hold generation 2's shares.
    await stack.stopNexus();
    await Deno.rename(stack.dataDir, `${stack.dataDir}-lost`);
    await stack.startNexus();
    const r = await whenReady(stack, ["operator", "restore-backup", "--file", file]);
    assert.equal(r.code, 0, r.stderr + stack.nexus!.stderr());
    assert.equal((await stack.spike("pilot", ["secret", "get", "app/db", "pass"])).stdout, "two");
    assert.equal(
      (await stack.spike("pilot", ["secret", "get", "app/db", "pass", "-v", "1"])).stdout,
      "one",
    );
    const status = JSON.parse((await stack.spike("pilot", ["status", "-f", "json"])).stdout);
    assert.equal(status.ready, true);
    assert.equal(status.keyGeneration, 2);
    const fresh = await nexusAs(stack, "pilot");
    try {
      assert.equal(
        new TextDecoder().decode(await fresh.nexus.decrypt(sealed)),
        "made before rotation",
      );
      await fresh.nexus.putSecret("app/after", { k: "v" });
      assert.deepEqual(await fresh.nexus.getSecret("app/after"), { k: "v" });
    } finally {
      fresh.close();
    }
  } finally {
    await stack.stop();
  }
});
