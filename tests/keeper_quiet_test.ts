/**
 * An empty Keeper polled by a real Nexus: "no share yet" is a normal answer,
 * audited once rather than as a 400 at every poll; once Bootstrap gives it a
 * share, the share requests are audited as usual.
 */

import assert from "node:assert/strict";
import { Stack } from "./support/stack.ts";

const auditLines = (stderr: string) =>
  stderr.split("\n").filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l));

Deno.test("a Keeper waiting for its share says so once, not at every poll", async () => {
  const stack = await Stack.start({ bootstrap: false, keepers: 2 });
  try {
    for (let i = 0; i < 2; i++) await stack.startKeeper(i);
    const nexus = await stack.startNexus();
    // Nexus polls with backoff from 0.5 s: wait for several polls of the empty Keepers.
    await nexus.waitFor(/(keeper holds no share yet[^]*){6}/, 20_000);
    const keeper = stack.keepers[0]!;
    const shard = auditLines(keeper.stderr()).filter((a) => a.route === "keeper.shard");
    assert.equal(shard.length, 1, keeper.stderr());
    assert.equal(shard[0].share, "none yet");
    assert.equal(shard[0].code, undefined);

    const boot = await stack.runBootstrap();
    assert.equal(boot.code, 0, boot.stderr);
    await stack.stopNexus("SIGKILL");
    const before = keeper.stderr().length;
    await stack.startNexus();
    await keeper.waitFor(/"route":"keeper\.shard"/, 20_000, before);
    const served = auditLines(keeper.stderr().slice(before)).filter((a) =>
      a.route === "keeper.shard"
    );
    assert.ok(served.length >= 1);
    assert.equal(served[0].status, 200);
  } finally {
    await stack.stop();
  }
});
