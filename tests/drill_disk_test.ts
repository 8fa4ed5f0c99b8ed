/**
 * Fault drill: the file system under Nexus's data folder fills up (a small
 * tmpfs mounted there, which needs root, as CI runs; the drill is skipped with
 * a note otherwise), then the folder's contents are deleted. Puts must fail fast with a 500 and
 * a log line naming the fault, nothing half-written may be served, reads must
 * keep working, the process must stay up, and writes must succeed again as
 * soon as the fault is gone, without a restart.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ApiResponseError } from "../lib/client/errors.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { nexusAs } from "./support/clients.ts";
import { run } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

const isRoot = Deno.uid() === 0;
if (!isRoot) console.log("tests/drill_disk_test.ts skipped: mounting a small tmpfs needs root");

async function refusedWith500(nexus: NexusClient, path: string): Promise<number> {
  const started = performance.now();
  await assert.rejects(nexus.putSecret(path, { v: "x".repeat(4096) }), (e: unknown) => {
    assert.ok(e instanceof ApiResponseError, String(e));
    assert.equal(e.status, 500);
    return true;
  });
  return performance.now() - started;
}

async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) await file.write(chunk);
  } catch {
    // ENOSPC: full to the last block
  } finally {
    file.close();
  }
  return path;
}

for (const backend of ["kv", "sqlite"] as const) {
  Deno.test({
    name: `disk full, then folder deleted, under ${backend}: 500s, reads go on, nothing lost`,
    ignore: !isRoot,
    fn: async () => {
      const stack = await Stack.start({ backend, bootstrap: false });
      const dir = stack.dataDir;
      await Deno.mkdir(dir, { recursive: true });
      const mount = await run("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir]);
      assert.equal(mount.code, 0, mount.stderr);
      const pilot = { nexus: undefined as NexusClient | undefined, close: () => {} };
      try {
        for (let i = 0; i < stack.options.keepers; i++) await stack.startKeeper(i);
        const nexus = await stack.startNexus();
        assert.equal((await stack.runBootstrap()).code, 0);
        Object.assign(pilot, await nexusAs(stack, "pilot"));
        const client = pilot.nexus!;
        await client.putSecret("disk/before", { v: "1" });

        const filler = await fill(dir);
        const fullMs = await refusedWith500(client, "disk/full");
        await nexus.waitFor(/request failed: store disk full/);
        assert.match(nexus.stderr(), /"hint":"free space under the data folder/);
        assert.deepEqual(await client.getSecret("disk/before"), { v: "1" }, "reads go on");
        await assert.rejects(client.getSecret("disk/full"), (e: unknown) => {
          assert.ok(e instanceof ApiResponseError && e.status === 404, String(e));
          return true;
        });
        await Deno.remove(filler);
        await client.putSecret("disk/after-full", { v: "2" });
        assert.deepEqual(await client.getSecret("disk/after-full"), { v: "2" });

        assert.deepEqual((await client.listSecrets()).sort(), [
          "disk/after-full",
          "disk/before",
        ]);

        // The data folder's contents deleted under Nexus: a write would go to a file nobody
        // opens again, so it is refused rather than acknowledged; reads go on.
        for await (const entry of Deno.readDir(dir)) {
          await Deno.remove(join(dir, entry.name), { recursive: true });
        }
        const goneMs = await refusedWith500(client, "disk/gone");
        await nexus.waitFor(/request failed: store folder missing/);
        assert.deepEqual(await client.getSecret("disk/before"), { v: "1" }, "reads go on");
        assert.equal(
          await Promise.race([nexus.ended().then(() => "ended"), Promise.resolve("running")]),
          "running",
        );
        console.log(
          `drill disk (${backend}): a put on a full disk refused in ${Math.round(fullMs)} ms ` +
            `(writes back without a restart), with the folder deleted in ${Math.round(goneMs)} ` +
            "ms; reads served throughout",
        );
      } finally {
        pilot.close();
        await stack.stop();
        await run("umount", ["-l", dir]);
      }
    },
  });
}

Deno.test({
  name: "a disk that stops answering (fsfreeze): puts answer 503 within the deadline, then resume",
  ignore: !isRoot,
  fn: async () => {
    const stack = await Stack.start({
      backend: "kv",
      bootstrap: false,
      nexusEnv: { SPIKE_NEXUS_DB_OPERATION_TIMEOUT: "2s" },
    });
    const dir = stack.dataDir;
    const image = join(stack.dir, "disk.ext4");
    let mounted = false;
    let frozen = false;
    const pilot = { nexus: undefined as NexusClient | undefined, close: () => {} };
    try {
      // A real block file system: tmpfs cannot be frozen.
      assert.equal((await run("truncate", ["-s", "32M", image])).code, 0);
      const mkfs = await run("mkfs.ext4", ["-q", image]);
      assert.equal(mkfs.code, 0, mkfs.stderr);
      await Deno.mkdir(dir, { recursive: true });
      const mount = await run("mount", ["-o", "loop", image, dir]);
      assert.equal(mount.code, 0, mount.stderr);
      mounted = true;
      await Deno.chmod(dir, 0o700);
      for (let i = 0; i < stack.options.keepers; i++) await stack.startKeeper(i);
      const nexus = await stack.startNexus();
      assert.equal((await stack.runBootstrap()).code, 0);
      Object.assign(pilot, await nexusAs(stack, "pilot"));
      const client = pilot.nexus!;
      await client.putSecret("disk/before", { v: "1" });

      assert.equal((await run("fsfreeze", ["-f", dir])).code, 0);
      frozen = true;
      const started = performance.now();
      await assert.rejects(client.putSecret("disk/frozen", { v: "2" }), (e: unknown) => {
        assert.ok(e instanceof ApiResponseError, String(e));
        assert.equal(e.status, 503);
        return true;
      });
      const answeredMs = performance.now() - started;
      assert.ok(answeredMs < 10_000, `answered after ${answeredMs} ms`);
      await nexus.waitFor(/store operation timed out; answering 503/);

      assert.equal((await run("fsfreeze", ["-u", dir])).code, 0);
      frozen = false;
      // The disk answers again: the next put goes through (the frozen one may have, too).
      let resumed = false;
      for (let i = 0; i < 100 && !resumed; i++) {
        resumed = await client.putSecret("disk/thawed", { v: "3" }).then(() => true, () => false);
        if (!resumed) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(resumed, "puts did not resume after the thaw");
      assert.deepEqual(await client.getSecret("disk/before"), { v: "1" });
      console.log(
        `drill disk (frozen): a put answered 503 after ${Math.round(answeredMs)} ms ` +
          "(deadline 2 s); puts resumed after the thaw",
      );
    } finally {
      // Thawed before anything else: a process stuck on a frozen disk cannot even exit.
      if (frozen) await run("fsfreeze", ["-u", dir]);
      pilot.close();
      await stack.stop();
      if (mounted) await run("umount", ["-l", dir]);
    }
  },
});
