/**
 * The root key's life, end to end: dev agent, Keepers, Nexus (kv backend in a
 * temp folder), Bootstrap and Pilot, each a separate process with its real
 * permission flags.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ApiResponseError } from "../lib/client/errors.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { formatRecoveryLine, shareIndex } from "../lib/crypto/shamir.ts";
import { keeperAs, nexusAs } from "./support/clients.ts";
import { within } from "./support/programs.ts";
import { spawnProgram, Stack } from "./support/stack.ts";

/** Polls `recover` until Nexus has its key; returns the shares and how long it took. */
async function waitForShares(
  nexus: NexusClient,
  ms = 30_000,
): Promise<{ shares: Uint8Array[]; tookMs: number }> {
  const started = performance.now();
  return await within(
    (async () => {
      for (;;) {
        try {
          const shares = await nexus.recover();
          return { shares, tookMs: performance.now() - started };
        } catch (e) {
          const retry = e instanceof ApiResponseError ? e.status === 503 : true;
          if (!retry) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })(),
    ms,
    "Nexus having its root key",
  );
}

/** Asserts that Nexus keeps answering 503 for `ms`. */
async function assertNotReadyFor(nexus: NexusClient, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await assert.rejects(nexus.recover(), (e: unknown) => {
      assert.ok(e instanceof ApiResponseError, String(e));
      assert.equal(e.status, 503);
      return true;
    });
    await new Promise((r) => setTimeout(r, 200));
  }
}

function lines(shares: Uint8Array[]): string[] {
  return shares.map(formatRecoveryLine);
}

Deno.test("Nexus gets its root key back from the Keepers by itself", async (t) => {
  const stack = await Stack.start({ updateInterval: "1s" });
  const { nexus, close } = await nexusAs(stack, "pilot-recover");
  try {
    const { shares } = await waitForShares(nexus);
    assert.deepEqual(shares.map(shareIndex), [1, 2, 3]);
    const original = lines(shares);

    await t.step("after kill -9, without any human step", async () => {
      await stack.stopNexus("SIGKILL");
      const started = performance.now();
      await stack.startNexus();
      const { shares } = await waitForShares(nexus);
      const tookMs = performance.now() - started;
      console.log(`time from Nexus start to ready after kill -9: ${tookMs.toFixed(0)} ms`);
      assert.deepEqual(lines(shares), original);
    });

    await t.step("with one Keeper down", async () => {
      await stack.stopKeeper(2, "SIGKILL");
      await stack.stopNexus("SIGKILL");
      await stack.startNexus();
      assert.deepEqual(lines((await waitForShares(nexus)).shares), original);
      await stack.startKeeper(2); // empty; Nexus re-seeds it within the interval
    });

    await t.step("Keepers restarted empty hold their shares again within an interval", async () => {
      for (let i = 0; i < 3; i++) {
        await stack.stopKeeper(i, "SIGKILL");
        await stack.startKeeper(i);
      }
      await new Promise((r) => setTimeout(r, 2500)); // update interval is 1s
      await stack.stopNexus("SIGKILL");
      await stack.startNexus();
      assert.deepEqual(lines((await waitForShares(nexus)).shares), original);
    });

    await t.step("with two Keepers away: 503 until one comes back, then recovery", async () => {
      // SIGSTOP makes a Keeper unreachable while it keeps its share in memory.
      for (const i of [1, 2]) Deno.kill(stack.keepers[i]!.pid, "SIGSTOP");
      try {
        await stack.stopNexus("SIGKILL");
        await stack.startNexus();
        await assertNotReadyFor(nexus, 2000);
        Deno.kill(stack.keepers[1]!.pid, "SIGCONT");
        assert.deepEqual(lines((await waitForShares(nexus, 60_000)).shares), original);
      } finally {
        for (const i of [1, 2]) Deno.kill(stack.keepers[i]!.pid, "SIGCONT");
      }
    });
  } finally {
    close();
    await stack.stop();
  }
});

Deno.test("a tampered share never becomes the key in use, and the Keeper is named", async () => {
  const stack = await Stack.start();
  const recoverer = await nexusAs(stack, "pilot-recover");
  const bootstrap = await keeperAs(stack, "bootstrap");
  try {
    const { shares } = await waitForShares(recoverer.nexus);
    const tampered = shares[0].slice();
    tampered[5] ^= 0x40;

    // Three Keepers, one lying: the other two pass the key check; the liar is named. Nexus is
    // stopped first: a running one gives each Keeper its share again (its update), which could
    // undo the lie before the restart.
    await stack.stopNexus("SIGKILL");
    await bootstrap.keepers.contribute(stack.keeperUrls[0], tampered);
    const nexusProc = await stack.startNexus();
    assert.deepEqual(lines((await waitForShares(recoverer.nexus)).shares), lines(shares));
    await nexusProc.waitFor(/keeper returned a share that does not belong to the root key/);
    assert.match(nexusProc.stderr(), new RegExp(`"keeper":"${stack.keeperUrls[0]}"`));

    // Only the liar and one honest Keeper: no key, 503, the shares are named as suspect.
    await stack.stopNexus("SIGKILL");
    await bootstrap.keepers.contribute(stack.keeperUrls[0], tampered);
    await stack.stopKeeper(2, "SIGKILL");
    const second = await stack.startNexus();
    await second.waitFor(/keeper shares rejected; not using them/);
    await assertNotReadyFor(recoverer.nexus, 1500);
    // The honest share comes back: Nexus recovers on its next round.
    await bootstrap.keepers.contribute(stack.keeperUrls[0], shares[0]);
    assert.deepEqual(lines((await waitForShares(recoverer.nexus, 90_000)).shares), lines(shares));
  } finally {
    recoverer.close();
    bootstrap.close();
    await stack.stop();
  }
});

Deno.test("break-the-glass: recover files, then restore brings back the same key", async () => {
  const stack = await Stack.start();
  const recoveryDir = join(stack.dir, "recover");
  const recoverEnv = { SPIKE_PILOT_RECOVERY_DIR: recoveryDir };
  const recoverer = await nexusAs(stack, "pilot-recover");
  const admin = await nexusAs(stack, "pilot");
  try {
    const original = lines((await waitForShares(recoverer.nexus)).shares);
    await admin.nexus.putSecret("before/loss", { kept: "across the disaster" });

    const saved = await stack.spike("pilot-recover", ["operator", "recover"], {
      env: recoverEnv,
      folders: [recoveryDir],
    });
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stderr, /wrote 3 recovery shares/);
    const files = [1, 2, 3].map((i) => join(recoveryDir, `spike.recovery.${i}.txt`));
    for (const [i, file] of files.entries()) {
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      assert.equal(await Deno.readTextFile(file), original[i]);
    }
    assert.equal((await Deno.stat(recoveryDir)).mode! & 0o777, 0o700);

    const again = await stack.spike("pilot-recover", ["operator", "recover"], {
      env: recoverEnv,
      folders: [recoveryDir],
    });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds spike\.recovery\..*nothing was written/);

    // Everything lost: Nexus and every Keeper.
    await stack.stopNexus("SIGKILL");
    for (let i = 0; i < 3; i++) {
      await stack.stopKeeper(i, "SIGKILL");
      await stack.startKeeper(i);
    }
    await stack.startNexus();
    await assertNotReadyFor(recoverer.nexus, 1000);

    const first = await stack.spike("pilot-restore", ["operator", "restore"], {
      stdin: await Deno.readTextFile(files[2]),
    });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /1 collected, 1 more needed/);
    const second = await stack.spike("pilot-restore", ["operator", "restore"], {
      stdin: await Deno.readTextFile(files[0]) + "\n",
    });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /root key back/);
    assert.deepEqual(lines((await waitForShares(recoverer.nexus)).shares), original);
    // The same root key: the secret written before the loss reads back.
    assert.deepEqual(await admin.nexus.getSecret("before/loss"), { kept: "across the disaster" });

    // Restoring also re-seeded the Keepers: a later crash heals by itself again.
    await new Promise((r) => setTimeout(r, 500));
    await stack.stopNexus("SIGKILL");
    await stack.startNexus();
    assert.deepEqual(lines((await waitForShares(recoverer.nexus)).shares), original);
  } finally {
    recoverer.close();
    admin.close();
    await stack.stop();
  }
});

Deno.test("wrong identities are refused; Bootstrap will not replace a key in use", async () => {
  const stack = await Stack.start();
  const recoverer = await nexusAs(stack, "pilot-recover");
  const superuser = await nexusAs(stack, "pilot");
  try {
    const original = lines((await waitForShares(recoverer.nexus)).shares);

    // Pilot checks its own role first, as upstream does.
    const su = await stack.spike("pilot", ["operator", "recover"]);
    assert.equal(su.code, 4);
    assert.match(su.stderr, /you need a 'recover' SPIFFE ID/);
    const su2 = await stack.spike("pilot", ["operator", "restore"], { stdin: original[0] });
    assert.equal(su2.code, 4);
    assert.match(su2.stderr, /you need a 'restore' SPIFFE ID/);
    // And Nexus refuses the superuser by itself too.
    for (const call of [() => superuser.nexus.recover(), () => superuser.nexus.bootstrapState()]) {
      await assert.rejects(
        call(),
        (e: unknown) => e instanceof ApiResponseError && e.status === 401,
      );
    }

    // Keepers admit only Nexus and Bootstrap at the TLS layer, and give shares to Nexus only.
    for (const identity of ["workload-a", "pilot"] as const) {
      const outsider = await keeperAs(stack, identity);
      try {
        await assert.rejects(outsider.keepers.shard(stack.keeperUrls[0]));
        await assert.rejects(
          outsider.keepers.contribute(stack.keeperUrls[0], new Uint8Array(33).fill(1)),
        );
      } finally {
        outsider.close();
      }
    }
    const bootstrap = await keeperAs(stack, "bootstrap");
    try {
      await assert.rejects(
        bootstrap.keepers.shard(stack.keeperUrls[0]),
        (e: unknown) => e instanceof ApiResponseError && e.status === 401,
      );
    } finally {
      bootstrap.close();
    }

    // Bootstrap again, without force: refused, nothing changed anywhere.
    const boot = await stack.runBootstrap();
    assert.equal(boot.code, 1);
    assert.match(boot.stderr, /already holds a root key and may hold data; nothing was changed/);
    assert.match(boot.stderr, /SPIKE_BOOTSTRAP_FORCE=true/);
    await stack.stopNexus("SIGKILL");
    await stack.startNexus();
    assert.deepEqual(lines((await waitForShares(recoverer.nexus)).shares), original);
  } finally {
    recoverer.close();
    superuser.close();
    await stack.stop();
  }
});

Deno.test("programs refuse an SVID that is not their role", async () => {
  const stack = await Stack.start({ bootstrap: false });
  try {
    const keeper = spawnProgram("keeper", {
      socket: stack.socket("nexus"),
      hosts: ["127.0.0.1:1"],
      env: { SPIKE_KEEPER_TLS_PORT: "127.0.0.1:1" },
    });
    const status = await within(keeper.status, 20_000, "keeper exiting");
    await keeper.stop();
    assert.equal(status.code, 1);
    assert.match(
      keeper.stderr(),
      /needs a keeper SPIFFE ID, but .* gave spiffe:\/\/spike\.ist\/spike\/nexus/,
    );
  } finally {
    await stack.stop();
  }
});

Deno.test("the memory backend has a key at once and no shares to recover or restore", async () => {
  const stack = await Stack.start({ bootstrap: false, backend: "memory" });
  const recoverer = await nexusAs(stack, "pilot-recover");
  try {
    await stack.startNexus();
    await assert.rejects(
      recoverer.nexus.recover(),
      (e: unknown) => e instanceof ApiResponseError && e.status === 400,
    );
    const restore = await stack.spike("pilot-restore", ["operator", "restore"], {
      stdin: `spike:1:${"ab".repeat(32)}01`,
    });
    assert.equal(restore.code, 5, restore.stderr);
    const boot = await stack.runBootstrap();
    assert.equal(boot.code, 1);
    assert.match(boot.stderr, /already holds a root key/);
  } finally {
    recoverer.close();
    await stack.stop();
  }
});
