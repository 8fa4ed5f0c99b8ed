/**
 * Fault drill: SVIDs rotating every two seconds under load (agent TTL 4 s,
 * renewed at half-life). A client reading in a loop must see no failure; new
 * connections must get Nexus's new certificate; Nexus must keep seeding its
 * Keepers (every second here) without a failure; and a Nexus killed after
 * several rotations must get its key back from the Keepers by itself.
 */

import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { nexusAs, untilServed } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

/** The SHA-256 fingerprint of the certificate Nexus presents to a new connection. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket: net.connect({ host: "127.0.0.1", port }),
      rejectUnauthorized: false,
    }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on("error", reject);
  });
}

Deno.test("SVIDs rotating every 2 s under load: no failed read, new certificates, Keepers seeded", async () => {
  const stack = await Stack.start({ agentTtl: "4s", updateInterval: "1s" });
  const pilot = await nexusAs(stack, "pilot");
  try {
    await pilot.nexus.putSecret("drill/rotation", { v: "1" });
    const logFrom = stack.nexus!.stderr().length;
    const fingerprints = new Set<string>();
    let reads = 0;
    const failures: string[] = [];
    const until = Date.now() + 12_000;
    const readers = Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        try {
          await pilot.nexus.getSecret("drill/rotation");
          reads++;
        } catch (e) {
          failures.push(String(e));
        }
      }
    });
    while (Date.now() < until) {
      fingerprints.add(await servedFingerprint(stack.nexusPort));
      await new Promise((r) => setTimeout(r, 1000));
    }
    await Promise.all(readers);
    assert.deepEqual(failures, [], "reads failed while SVIDs rotated");
    assert.ok(fingerprints.size >= 3, `only ${fingerprints.size} certificates seen in 12 s`);
    const log = stack.nexus!.stderr().slice(logFrom);
    assert.doesNotMatch(log, /could not seed keeper/, "Nexus could not seed a Keeper");
    assert.doesNotMatch(log, /rotation failed/);

    // After all those rotations, a Nexus killed with -9 gets its key back by itself.
    await stack.stopNexus("SIGKILL");
    const started = performance.now();
    await stack.startNexus();
    await untilServed(
      () => pilot.nexus.getSecret("drill/rotation"),
      30_000,
      "Nexus back after the rotations",
    );
    console.log(
      `drill rotation: ${reads} reads by 4 clients over 12 s of 2 s rotations, 0 failed; ` +
        `${fingerprints.size} server certificates seen; Nexus back after kill -9 in ` +
        `${Math.round(performance.now() - started)} ms`,
    );
  } finally {
    pilot.close();
    await stack.stop();
  }
});
