/**
 * Root-key rotation end to end, with real processes: `spike operator rotate`
 * under concurrent writers, kill -9 of Nexus before the Keepers hold the new
 * shares, in the middle of the re-seal and right after the old key is
 * retired, each time finished by the next start with no human step; then
 * every acknowledged write reads back, a pre-rotation cipher text decrypts,
 * and a restore with a pre-rotation recovery share is refused by name.
 */

import assert from "node:assert/strict";
import type { RotateResponse } from "../lib/api/rotation.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { formatRecoveryLine } from "../lib/crypto/shamir.ts";
import { nexusAs, untilServed } from "./support/clients.ts";
import { readyGeneration, startWriters } from "./support/load.ts";
import { Stack } from "./support/stack.ts";

/** Waits until Nexus reports generation `gen`, ready and with no rotation left to do. */
async function untilGeneration(stack: Stack, nexus: NexusClient, gen: number, from: number) {
  await stack.nexus!.waitFor(
    /"msg":"(root key rotation finished|old root key retired)"/,
    120_000,
    from,
  );
  assert.equal(await readyGeneration(nexus), gen);
}

async function assertAllReadable(nexus: NexusClient, acked: Map<string, string>) {
  for (const [path, value] of acked) {
    assert.deepEqual(await untilServed(() => nexus.getSecret(path)), { v: value }, path);
  }
}

Deno.test("rotation under load survives kill -9 before the handover, mid re-seal and after it", async (t) => {
  const stack = await Stack.start({ updateInterval: "1s" });
  const admin = await nexusAs(stack, "pilot");
  const recoverer = await nexusAs(stack, "pilot-recover");
  try {
    const oldShares = (await untilServed(() => recoverer.nexus.recover())).map(formatRecoveryLine);
    const sealed = await admin.nexus.encrypt(new TextEncoder().encode("made before rotation"));
    // Enough records that the re-seal takes a while.
    const seeded = new Map<string, string>();
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < 1000; i += 8) {
        const value = `seed-${i}`;
        await admin.nexus.putSecret(`seed/${i}`, { v: value });
        seeded.set(`seed/${i}`, value);
      }
    }));
    await admin.nexus.putPolicy({
      name: "readers",
      spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
      pathPattern: "^seed/",
      permissions: ["read"],
    });
    const load = startWriters([admin.nexus], 4, { tag: "load", pauseMs: 100, retryMs: 50 });

    await t.step("spike operator rotate, with writers running", async () => {
      const from = stack.nexus!.stderr().length;
      const rotated = await stack.spike("pilot", ["operator", "rotate"]);
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stdout, /generation 2 is in use, 1 is retired/);
      assert.match(rotated.stderr, /no longer restore.*\n?.*spike operator recover/s);
      assert.match(stack.nexus!.stderr().slice(from), /"msg":"old root key retired"/);
      assert.equal(await readyGeneration(admin.nexus), 2);
      const denied = await stack.spike("workload-a", ["operator", "rotate"]);
      assert.notEqual(denied.code, 0);
    });

    await t.step("kill -9 while a Keeper cannot take its new share", async () => {
      Deno.kill(stack.keepers[2]!.pid, "SIGSTOP");
      try {
        const from = stack.nexus!.stderr().length;
        const started = admin.nexus.call<RotateResponse>("rootkey.rotate", {}).catch((e) => e);
        await stack.nexus!.waitFor(/"msg":"root key rotation started"/, 30_000, from);
        await stack.nexus!.waitFor(/not finished yet|waits for Keepers/, 30_000, from);
        await stack.stopNexus("SIGKILL");
        await started;
      } finally {
        Deno.kill(stack.keepers[2]!.pid, "SIGCONT");
      }
      await stack.startNexus();
      await untilGeneration(stack, admin.nexus, 3, 0);
    });

    await t.step("kill -9 in the middle of the re-seal", async () => {
      const from = stack.nexus!.stderr().length;
      const started = admin.nexus.call<RotateResponse>("rootkey.rotate", {}).catch((e) => e);
      await stack.nexus!.waitFor(/"msg":"re-sealing records under the new root key"/, 30_000, from);
      await new Promise((r) => setTimeout(r, 150));
      await stack.stopNexus("SIGKILL");
      const answer = await started;
      assert.ok(answer instanceof Error, "the rotate call cannot have finished before the kill");
      await stack.startNexus();
      await untilGeneration(stack, admin.nexus, 4, 0);
    });

    await t.step("kill -9 right after the old key is retired", async () => {
      const from = stack.nexus!.stderr().length;
      const started = admin.nexus.call<RotateResponse>("rootkey.rotate", {}).catch((e) => e);
      await stack.nexus!.waitFor(/"msg":"old root key retired"/, 120_000, from);
      await stack.stopNexus("SIGKILL");
      await started;
      await stack.startNexus();
      assert.equal(await readyGeneration(admin.nexus), 5);
    });

    await load.stop();
    console.log(
      `writes acknowledged during the rotations: ${load.acked.size}, failed (not acknowledged): ${load.failed()}`,
    );
    assert.ok(load.acked.size > 20, `only ${load.acked.size} writes acknowledged`);

    await t.step("every acknowledged write and the cipher text made before read back", async () => {
      await assertAllReadable(admin.nexus, load.acked);
      await assertAllReadable(admin.nexus, seeded);
      assert.equal((await admin.nexus.getPolicy("readers")).pathPattern, "^seed/");
      assert.equal(
        new TextDecoder().decode(await admin.nexus.decrypt(sealed)),
        "made before rotation",
      );
    });

    await t.step(
      "a pre-rotation recovery share is refused as a retired key's; new ones restore",
      async () => {
        const newShares = (await untilServed(() => recoverer.nexus.recover())).map(
          formatRecoveryLine,
        );
        await stack.stopNexus("SIGKILL");
        for (let i = 0; i < 3; i++) {
          await stack.stopKeeper(i, "SIGKILL");
          await stack.startKeeper(i);
        }
        await stack.startNexus();
        const old = await stack.spike("pilot-restore", ["operator", "restore"], {
          stdin: oldShares[0],
        });
        assert.equal(old.code, 1, old.stderr);
        assert.match(old.stderr, /belongs to root key generation 1, which a rotation retired/);
        for (const share of newShares.slice(0, 2)) {
          const step = await stack.spike("pilot-restore", ["operator", "restore"], {
            stdin: share,
          });
          assert.equal(step.code, 0, step.stderr);
        }
        assert.equal(await readyGeneration(admin.nexus), 5);
        await assertAllReadable(admin.nexus, new Map([...seeded].slice(0, 50)));
      },
    );
  } finally {
    admin.close();
    recoverer.close();
    await stack.stop();
  }
});
