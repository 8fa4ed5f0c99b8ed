/**
 * Bootstrap against a Nexus that has data but no key loaded (its Keepers are
 * gone): it changes nothing and says what is true and how to restore the key.
 */

import assert from "node:assert/strict";
import { Stack } from "./support/stack.ts";

Deno.test("Bootstrap on a Nexus with data but no key says so and how to fix it", async () => {
  const stack = await Stack.start();
  try {
    assert.equal((await stack.spike("pilot", ["secret", "put", "kept/x", "k=v"])).code, 0);
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
  } finally {
    await stack.stop();
  }
});
