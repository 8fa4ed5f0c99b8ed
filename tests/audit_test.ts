/**
 * The audit file (`SPIKE_NEXUS_AUDIT_FILE`), end to end with Nexus started
 * through the launcher (which grants the file): records are appended, mode
 * 0600, two per request, never a value; and Nexus fails closed: a file it
 * cannot open stops it at start, and once the file system is full every
 * request is refused and changes nothing. The full and read-only file
 * systems are small tmpfs mounts, which need root (as CI runs); without
 * root, an unwritable file stands in for the read-only one and the
 * full-disk case is skipped, saying so.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { nexusAs } from "./support/clients.ts";
import { run } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

const isRoot = Deno.uid() === 0;

async function mountTmpfs(dir: string, options: string): Promise<boolean> {
  await Deno.mkdir(dir, { recursive: true });
  const r = await run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
  if (r.code !== 0) console.log(`cannot mount a tmpfs (${r.stderr.trim()})`);
  return r.code === 0;
}

async function unmount(dir: string): Promise<void> {
  await run("umount", [dir]);
}

async function records(path: string): Promise<Record<string, unknown>[]> {
  return (await Deno.readTextFile(path)).split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}

Deno.test("the audit file: two records per request, 0600, no values", async () => {
  const stack = await Stack.start({ backend: "memory", bootstrap: false });
  const file = join(stack.dir, "audit", "nexus-audit.log");
  await Deno.mkdir(join(stack.dir, "audit"));
  try {
    await stack.startNexus({ SPIKE_NEXUS_AUDIT_FILE: file });
    const put = await stack.spike("pilot", ["secret", "put", "app/db", "pass=Hunter2-value"]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal((await stack.spike("pilot", ["secret", "get", "app/db", "pass"])).code, 0);
    const stranger = await nexusAs(stack, "workload-a");
    try {
      await assert.rejects(stranger.nexus.getSecret("app/db"), /401/);
    } finally {
      stranger.close();
    }
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(file);
    assert.doesNotMatch(text, /Hunter2/, "a secret value reached the audit file");
    const all = await records(file);
    const byTrail = Map.groupBy(all, (r) => r.trail as string);
    for (const [trail, pair] of byTrail) {
      assert.deepEqual(pair.map((r) => r.phase), ["request", "response"], trail);
    }
    const puts = all.filter((r) => r.route === "secret.put" && r.phase === "response");
    assert.equal(puts.length, 1);
    assert.equal(puts[0].path, "app/db");
    assert.equal(puts[0].status, 200);
    assert.equal(puts[0].caller, "spiffe://spike.ist/spike/pilot/role/superuser");
    const refused = all.filter((r) => r.status === 401);
    assert.equal(refused.length, 1);
    assert.equal(refused[0].caller, "spiffe://spike.ist/workload/a");
    // Appended, not replaced: a restarted Nexus keeps what was there.
    const before = all.length;
    const stopped = await stack.nexus!.stop("SIGTERM");
    assert.equal(stopped.code, 0, "Nexus did not stop cleanly with its audit file open");
    await stack.startNexus({ SPIKE_NEXUS_AUDIT_FILE: file });
    assert.equal((await stack.spike("pilot", ["secret", "list"])).code, 0);
    assert.equal((await records(file)).length, before + 2);
  } finally {
    await stack.stop();
  }
});

Deno.test("an audit file Nexus cannot open stops it at start, naming the setting", async () => {
  const stack = await Stack.start({ backend: "memory", bootstrap: false });
  const dir = join(stack.dir, "readonly");
  let mounted = false;
  try {
    let file: string;
    if (isRoot && await mountTmpfs(dir, "ro,size=64k")) {
      mounted = true;
      file = join(dir, "audit.log"); // a read-only file system: even root cannot create it
    } else {
      await Deno.mkdir(dir, { recursive: true });
      file = join(dir, "audit.log");
      await Deno.writeTextFile(file, "");
      await Deno.chmod(file, 0o400);
      console.log("not root: an unwritable file stands in for a read-only file system");
    }
    await assert.rejects(stack.startNexus({ SPIKE_NEXUS_AUDIT_FILE: file }));
    const status = await stack.nexus!.ended();
    assert.notEqual(status.code, 0);
    const stderr = stack.nexus!.stderr();
    assert.match(
      stderr,
      mounted
        ? /SPIKE_NEXUS_AUDIT_FILE cannot be opened for appending: Read-only file system/
        : /SPIKE_NEXUS_AUDIT_FILE cannot be opened for appending: Permission denied/,
    );
    assert.doesNotMatch(stderr, /"msg":"listening"/);
    // A relative path is a configuration error too.
    await assert.rejects(stack.startNexus({ SPIKE_NEXUS_AUDIT_FILE: "audit.log" }));
    assert.match(stack.nexus!.stderr(), /SPIKE_NEXUS_AUDIT_FILE="audit\.log" is invalid/);
  } finally {
    await stack.stop().catch(() => {});
    if (mounted) await unmount(dir);
  }
});

Deno.test({
  name: "a full file system: every request is refused and changes nothing",
  ignore: !isRoot,
  fn: async () => {
    const stack = await Stack.start({ backend: "memory", bootstrap: false });
    const dir = join(stack.dir, "small");
    let mounted = false;
    try {
      mounted = await mountTmpfs(dir, "size=256k");
      assert.ok(mounted, "root, but no tmpfs: cannot make a full disk");
      const file = join(dir, "audit.log");
      await stack.startNexus({ SPIKE_NEXUS_AUDIT_FILE: file });
      assert.equal((await stack.spike("pilot", ["secret", "put", "app/db", "v=one"])).code, 0);
      // Fill the file system to the last byte.
      const filler = await Deno.open(join(dir, "filler"), { write: true, create: true });
      const chunk = new Uint8Array(4096);
      try {
        for (;;) await filler.write(chunk);
      } catch (e) {
        assert.match(String(e), /space/i);
      }
      for (let n = 1; n > 0;) {
        try {
          n = await filler.write(new Uint8Array(1));
        } catch {
          n = 0;
        }
      }
      filler.close();
      // The audit file's last page may still hold a few records: use it up with status calls.
      let refusedAt = -1;
      for (let i = 0; i < 40 && refusedAt < 0; i++) {
        const r = await stack.spike("pilot", ["status"]);
        if (r.code !== 0) refusedAt = i;
      }
      assert.ok(refusedAt >= 0, "requests were still answered on a full file system");
      const put = await stack.spike("pilot", ["secret", "put", "app/db", "v=two"]);
      assert.equal(put.code, 1, `a write was answered on a full disk: ${put.stdout}${put.stderr}`);
      assert.match(put.stderr, /HTTP 500/);
      const get = await stack.spike("pilot", ["secret", "get", "app/db", "v"]);
      assert.notEqual(get.code, 0, "a read was answered without its audit record");
      assert.match(stack.nexus!.stderr(), /"auditFailed":"true"/);
      // Space again: served again, and the refused write was never applied.
      await Deno.remove(join(dir, "filler"));
      const after = await stack.spike("pilot", ["secret", "get", "app/db", "v"]);
      assert.equal(after.code, 0, after.stderr);
      assert.equal(after.stdout, "one");
      const meta = await stack.spike("pilot", [
        "secret",
        "metadata",
        "get",
        "app/db",
        "-f",
        "json",
      ]);
      assert.equal(JSON.parse(meta.stdout).metadata.currentVersion, 1);
      console.log(`refused after ${refusedAt} more requests once the disk was full`);
    } finally {
      await stack.stop().catch(() => {});
      if (mounted) await unmount(dir);
    }
  },
});
