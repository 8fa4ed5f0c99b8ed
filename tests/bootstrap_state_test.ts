/**
 * Bootstrap against a Nexus that has data but no key loaded (its Keepers are
 * gone): it changes nothing and says what is true and how to restore the key.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Stack } from "./support/stack.ts";

Deno.test("Bootstrap on a Nexus with data but no key says so and how to fix it", async () => {
  const stack = await Stack.start();
  try {
    assert.equal((await stack.spike("pilot", ["secret", "put", "kept/x", "k=v"])).code, 0);
    // As the dev stack does: break-the-glass shares kept in a folder.
    const recover = join(stack.dir, "recover");
    const saved = await stack.spike("pilot-recover", ["operator", "recover"], {
      env: { SPIKE_PILOT_RECOVERY_DIR: recover },
      folders: [recover],
    });
    assert.equal(saved.code, 0, saved.stderr);
    for (let i = 0; i < 3; i++) await stack.stopKeeper(i);
    await stack.stopNexus("SIGKILL");
    await stack.startNexus(); // data on disk, no Keeper to give the key back: 503
    const down = await stack.spike("pilot", ["secret", "list"]);
    assert.equal(down.code, 6, down.stderr);
    const boot = await stack.runBootstrap({ SPIKE_BOOTSTRAP_KEEPER_MAX_RETRIES: "1" });
    assert.notEqual(boot.code, 0);
    assert.match(boot.stderr, /has data under a root key that it does not hold now/);
    assert.match(boot.stderr, /spike operator restore/);
    assert.doesNotMatch(boot.stderr, /already holds a root key/);
    // Nothing changed: Nexus still waits for its own key; no new one was made.
    const again = await stack.spike("pilot", ["secret", "list"]);
    assert.equal(again.code, 6);

    // The README's way out: operator restore, once per share file, until Nexus serves.
    for (const i of [1, 2]) {
      const line = await Deno.readTextFile(join(recover, `spike.recovery.${i}.txt`));
      const r = await stack.spike("pilot-restore", ["operator", "restore"], { stdin: line });
      assert.equal(r.code, 0, r.stderr);
    }
    const back = await stack.spike("pilot", ["secret", "get", "kept/x", "k"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, "v");
  } finally {
    await stack.stop();
  }
});
