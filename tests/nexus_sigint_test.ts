/**
 * Nexus stops within a few seconds of SIGINT (as Ctrl-C on `deno task nexus`
 * sends it), even with an idle keep-alive connection and a connection that
 * never finished its TLS handshake open.
 */

import assert from "node:assert/strict";
import { CLOSE_GRACE_MS } from "../lib/tls/server.ts";
import { nexusAs } from "./support/clients.ts";
import { within } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

Deno.test("Nexus exits promptly on SIGINT with keep-alive and half-open connections", async () => {
  const stack = await Stack.start();
  const admin = await nexusAs(stack, "pilot");
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: stack.nexusPort });
  try {
    await admin.nexus.putSecret("sigint/x", { k: "v" });
    assert.deepEqual(await admin.nexus.getSecret("sigint/x"), { k: "v" }); // now idle, kept alive
    const nexus = stack.nexus!;
    const started = performance.now();
    Deno.kill(nexus.pid, "SIGINT");
    const status = await within(nexus.status, 30_000, "Nexus exiting after SIGINT");
    const took = performance.now() - started;
    assert.equal(status.code, 0, nexus.stderr());
    assert.ok(took < CLOSE_GRACE_MS / 2, `Nexus took ${Math.round(took)} ms to exit`);
    stack.nexus = undefined;
  } finally {
    raw.close();
    admin.close();
    await stack.stop();
  }
});
