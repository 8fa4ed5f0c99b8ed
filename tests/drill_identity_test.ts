/**
 * Fault drill: the Workload API goes away and comes back. While the agent is
 * down, Nexus and the Keepers keep serving with the SVIDs they hold, retry
 * with backoff and say so once (not at every retry); when an agent is back on
 * the same sockets they take its new SVIDs, say so, and new connections get
 * the new certificate.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { nexusAs } from "./support/clients.ts";
import { startAgent } from "./support/agent.ts";
import { Stack, STACK_IDENTITIES } from "./support/stack.ts";

function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((l) => pattern.test(l)).length;
}

Deno.test("the Workload API gone for a while: programs keep serving, say it once, take the new SVID", async () => {
  const stack = await Stack.start();
  const pilot = await nexusAs(stack, "pilot");
  let second: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    await pilot.nexus.putSecret("drill/identity", { v: "1" });
    await stack.agent.stop();
    // Eight seconds without an agent: the backoff retries several times meanwhile.
    const outageEnds = Date.now() + 8000;
    let served = 0;
    while (Date.now() < outageEnds) {
      assert.deepEqual(await pilot.nexus.getSecret("drill/identity"), { v: "1" });
      served++;
      await new Promise((r) => setTimeout(r, 250));
    }
    const nexus = stack.nexus!;
    await nexus.waitFor(/identity source unavailable/);
    assert.equal(count(nexus.stderr(), /identity source unavailable/), 1, nexus.stderr());
    assert.match(nexus.stderr(), /"servingWithSvidValidUntil":"\d{4}-/);

    second = await startAgent({
      identities: Object.entries(STACK_IDENTITIES).map(([s, id]) => `${s}=${id}`),
      dir: join(stack.dir, "agent"),
    });
    await nexus.waitFor(/identity source back/, 40_000);
    assert.match(nexus.stderr(), /"msg":"identity source back","failures":[2-9]/);
    for (const keeper of stack.keepers) await keeper!.waitFor(/identity source back/, 40_000);
    // A new connection: the client (new SVID) and Nexus (its new certificate) agree.
    const fresh = await nexusAs(stack, "pilot");
    try {
      assert.deepEqual(await fresh.nexus.getSecret("drill/identity"), { v: "1" });
    } finally {
      fresh.close();
    }
    console.log(
      `drill identity: ${served} reads served during an 8 s Workload API outage; ` +
        `1 log line for it in Nexus; the new SVID taken after the agent came back`,
    );
  } finally {
    pilot.close();
    await second?.stop();
    await stack.stop();
  }
});
