/**
 * Rekey end to end, with real processes: a 2-of-3 deployment gets two new
 * Keepers and becomes 3-of-5 with the same root key. A kill -9 of Nexus while
 * a new Keeper does not take its share is finished by the next start; then
 * `spike operator rekey` hands out fresh shares, the first two Keepers stop,
 * and a Nexus killed with -9 recovers its key from the other three alone;
 * every secret reads back; a pre-rekey recovery share is refused by name and
 * the new ones restore. Plans Nexus cannot carry out change nothing.
 */

import assert from "node:assert/strict";
import type { RekeyRefusal } from "../lib/api/rotation.ts";
import { ApiResponseError } from "../lib/client/errors.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { formatRecoveryLine } from "../lib/crypto/shamir.ts";
import { nexusAs, untilServed } from "./support/clients.ts";
import { startHostileKeeper } from "./support/keepers.ts";
import { readyStatus } from "./support/load.ts";
import { type Proc, Stack } from "./support/stack.ts";

/** The refusal a 400 from the rekey route carries. */
async function refused(call: Promise<unknown>): Promise<string> {
  const e = await call.then(() => undefined, (e) => e);
  assert.ok(e instanceof ApiResponseError && e.status === 400, `expected a 400, got ${e}`);
  return (JSON.parse(new TextDecoder().decode(e.body)) as RekeyRefusal).refused;
}

async function threshold(nexus: NexusClient): Promise<number> {
  return (await readyStatus(nexus)).threshold;
}

const SECRETS = Array.from({ length: 20 }, (_, i) => [`app/${i}`, `value-${i}`] as const);

async function assertSecrets(nexus: NexusClient): Promise<void> {
  for (const [path, v] of SECRETS) {
    assert.deepEqual(await untilServed(() => nexus.getSecret(path), 60_000), { v }, path);
  }
}

Deno.test("rekey 2-of-3 → 3-of-5 with two new Keepers, kill -9 during it, the new set alone", async (t) => {
  const stack = await Stack.start({ keepers: 5, bootstrap: false, updateInterval: "1s" });
  // The first deployment: three Keepers, 2 of 3.
  const three = {
    SPIKE_NEXUS_KEEPER_PEERS: stack.keeperUrls.slice(0, 3).join(","),
    SPIKE_NEXUS_SHAMIR_SHARES: "3",
  };
  // From now on Nexus lists all five (the operator's restart), shares still 3 until the rekey.
  const five = { SPIKE_NEXUS_SHAMIR_SHARES: "3" };
  let forgetful: Proc | undefined;
  let admin: Awaited<ReturnType<typeof nexusAs>> | undefined;
  let recoverer: Awaited<ReturnType<typeof nexusAs>> | undefined;
  try {
    for (let i = 0; i < 3; i++) await stack.startKeeper(i);
    await stack.startNexus(three);
    const boot = await stack.runBootstrap(three);
    assert.equal(boot.code, 0, boot.stderr);
    admin = await nexusAs(stack, "pilot");
    recoverer = await nexusAs(stack, "pilot-recover");
    for (const [path, v] of SECRETS) await untilServed(() => admin!.nexus.putSecret(path, { v }));
    const oldShares = (await untilServed(() => recoverer!.nexus.recover())).map(formatRecoveryLine);
    assert.equal(oldShares.length, 3);

    await t.step(
      "two new Keepers, Nexus restarted listing five; bad plans change nothing",
      async () => {
        await stack.startKeeper(3);
        forgetful = await startHostileKeeper(stack, 4, "wrong");
        await stack.stopNexus("SIGTERM");
        await stack.startNexus(five);
        assert.equal(await threshold(admin!.nexus), 2);
        const call = (body: unknown) => admin!.nexus.call("rootkey.rekey", body);
        assert.match(await refused(call({ shares: 3, threshold: 4 })), /threshold \(4\)/);
        assert.match(
          await refused(call({
            shares: 2,
            threshold: 2,
            keepers: [stack.keeperUrls[0], "https://127.0.0.1:1"],
          })),
          /127\.0\.0\.1:1 is not in SPIKE_NEXUS_KEEPER_PEERS/,
        );
        assert.match(
          await refused(call({
            shares: 2,
            threshold: 2,
            keepers: [stack.keeperUrls[0], `${stack.keeperUrls[0]}/`],
          })),
          /listed twice/,
        );
        await stack.stopKeeper(3);
        assert.match(await refused(call({ shares: 5, threshold: 3 })), /do not answer/);
        await stack.startKeeper(3);
        // Pilot says so too, and exits non-zero.
        const cli = await stack.spike("pilot", [
          "operator",
          "rekey",
          "--shares",
          "2",
          "--threshold",
          "2",
          "--keeper",
          stack.keeperUrls[0],
          "--keeper",
          "https://127.0.0.1:1",
        ]);
        assert.equal(cli.code, 1, cli.stderr);
        assert.match(
          cli.stderr,
          /rekey refused, nothing changed: .*not in SPIKE_NEXUS_KEEPER_PEERS/,
        );
        const denied = await stack.spike("workload-a", [
          "operator",
          "rekey",
          "--shares",
          "5",
          "--threshold",
          "3",
        ]);
        assert.notEqual(denied.code, 0);
        assert.equal(await threshold(admin!.nexus), 2);
        await assertSecrets(admin!.nexus);
      },
    );

    await t.step(
      "kill -9 while a new Keeper does not take its share; the next start finishes",
      async () => {
        const from = stack.nexus!.stderr().length;
        const answer = await admin!.nexus.call("rootkey.rekey", { shares: 5, threshold: 3 })
          .then(() => undefined, (e) => e);
        assert.ok(answer instanceof ApiResponseError && answer.status === 503, `${answer}`);
        assert.match(stack.nexus!.stderr().slice(from), /"msg":"rekey started"/);
        await stack.stopNexus("SIGKILL");
        await forgetful!.stop("SIGKILL");
        forgetful = undefined;
        await stack.startKeeper(4);
        await stack.startNexus(five);
        await stack.nexus!.waitFor(/"msg":"rekey done"/, 60_000, 0);
        assert.equal(await threshold(admin!.nexus), 3);
        await assertSecrets(admin!.nexus);
      },
    );

    let newShares: string[] = [];
    await t.step(
      "spike operator rekey hands out fresh shares and says to recover again",
      async () => {
        const done = await stack.spike("pilot", [
          "operator",
          "rekey",
          "--shares",
          "5",
          "--threshold",
          "3",
        ]);
        assert.equal(done.code, 0, done.stderr);
        assert.match(done.stdout, /any 3 of 5 Keepers give the root key/);
        assert.match(done.stderr, /no longer restore.*\n?.*spike operator recover/s);
        newShares = (await untilServed(() => recoverer!.nexus.recover())).map(formatRecoveryLine);
        assert.equal(newShares.length, 5);
      },
    );

    await t.step(
      "the first two Keepers stop, kill -9: the key comes from the other three",
      async () => {
        await stack.stopKeeper(0);
        await stack.stopKeeper(1);
        await stack.stopNexus("SIGKILL");
        await stack.startNexus(five);
        await stack.nexus!.waitFor(/"msg":"root key recovered from keepers"/, 60_000, 0);
        await assertSecrets(admin!.nexus);
      },
    );

    await t.step(
      "a pre-rekey recovery share is refused by name; the new ones restore",
      async () => {
        await stack.stopNexus("SIGKILL");
        for (let i = 2; i < 5; i++) await stack.stopKeeper(i);
        for (let i = 0; i < 5; i++) await stack.startKeeper(i); // empty: shares live in memory only
        await stack.startNexus(five);
        const old = await stack.spike("pilot-restore", ["operator", "restore"], {
          stdin: oldShares[0],
        });
        assert.equal(old.code, 1, old.stderr);
        assert.match(old.stderr, /belongs to a Keeper set that a rekey replaced/);
        for (const share of newShares.slice(1, 4)) {
          const step = await stack.spike("pilot-restore", ["operator", "restore"], {
            stdin: share,
          });
          assert.equal(step.code, 0, step.stderr);
        }
        await assertSecrets(admin!.nexus);
      },
    );
  } finally {
    admin?.close();
    recoverer?.close();
    await forgetful?.stop("SIGKILL");
    await stack.stop();
  }
});
