/**
 * Programs can take their SVID from files (spiffe-helper's or cert-manager's
 * way) instead of the Workload API: SPIKE_SVID_CERT_FILE, _KEY_FILE and
 * _BUNDLE_FILE, as written here by the agent's `fetch x509 --write`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fetchX509 } from "./support/agent.ts";
import { within } from "./support/programs.ts";
import { freePort, spawnProgram, Stack } from "./support/stack.ts";

Deno.test("Pilot and a Keeper run from SVID files", async () => {
  const stack = await Stack.start();
  try {
    const pilotDir = join(stack.dir, "pilot-svid");
    const keeperDir = join(stack.dir, "keeper-svid");
    for (const [dir, identity] of [[pilotDir, "pilot"], [keeperDir, "keeper"]] as const) {
      await Deno.mkdir(dir);
      const fetched = await fetchX509(stack.socket(identity), ["--write", dir, "--silent"], dir);
      assert.equal(fetched.code, 0, fetched.stderr);
    }
    const files = (dir: string) => ({
      SPIKE_SVID_CERT_FILE: join(dir, "svid.0.pem"),
      SPIKE_SVID_KEY_FILE: join(dir, "svid.0.key"),
      SPIKE_SVID_BUNDLE_FILE: join(dir, "bundle.0.pem"),
    });

    // The socket given is workload-a's, which may not list secrets: success proves the files won.
    await stack.spike("pilot", ["secret", "put", "files/x", "k=v"]);
    const listed = await stack.spike("workload-a", ["secret", "list"], {
      env: files(pilotDir),
      folders: [pilotDir],
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, "- files/x\n");

    const outside = await stack.spike("workload-a", ["secret", "list"], {
      env: files(pilotDir),
      byHand: true,
    });
    assert.equal(outside.code, 7); // a configuration problem (Pilot's exit code 7)
    assert.match(
      outside.stderr,
      /SPIKE_SVID_CERT_FILE points at .*pilot-svid, which this program is not allowed to read; run it with --allow-read=/,
    );
    const partial = await stack.spike("pilot", ["secret", "list"], {
      env: { SPIKE_SVID_CERT_FILE: join(pilotDir, "svid.0.pem") },
      byHand: true,
    });
    assert.equal(partial.code, 7);
    assert.match(
      partial.stderr,
      /set all of SPIKE_SVID_CERT_FILE, SPIKE_SVID_KEY_FILE, SPIKE_SVID_BUNDLE_FILE/,
    );

    const port = freePort();
    const keeper = spawnProgram("keeper", {
      socket: stack.socket("nexus"), // not used: the files win
      hosts: [`127.0.0.1:${port}`],
      folders: [keeperDir],
      env: { ...files(keeperDir), SPIKE_KEEPER_TLS_PORT: `127.0.0.1:${port}` },
    });
    try {
      await keeper.waitFor(/"msg":"ready".*"spiffeId":"spiffe:\/\/spike\.ist\/spike\/keeper"/);
    } finally {
      await within(keeper.stop(), 10_000, "keeper stopping");
    }
  } finally {
    await stack.stop();
  }
});
