/**
 * Fault drill: hostile Keepers. Three Keepers hold shares of a 2-of-3 key; one
 * (then two) is replaced by a Keeper with a real Keeper SVID that answers with
 * garbage, an endless body, or never. Nexus, killed with -9 and started again,
 * must recover from the honest threshold without waiting for the bad one, name
 * it, read no more than a bounded answer from it, and with two bad Keepers of
 * three stay at 503 serving nothing.
 */

import assert from "node:assert/strict";
import { ApiResponseError } from "../lib/client/errors.ts";
import { nexusAs, untilServed } from "./support/clients.ts";
import { startHostileKeeper } from "./support/keepers.ts";
import { type Proc, Stack } from "./support/stack.ts";

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

Deno.test("hostile Keepers: Nexus recovers from the honest two, names the bad one, bounds it", async (t) => {
  const stack = await Stack.start();
  const pilot = await nexusAs(stack, "pilot");
  const figures: string[] = [];
  let bad: Proc | undefined;
  try {
    await pilot.nexus.putSecret("drill/keepers", { v: "1" });
    for (const mode of ["garbage", "huge", "silent"]) {
      await t.step(`a Keeper that answers ${mode}`, async () => {
        await bad?.stop("SIGKILL");
        await stack.stopKeeper(2, "SIGKILL");
        bad = await startHostileKeeper(stack, 2, mode);
        await stack.stopNexus("SIGKILL");
        const nexus = await stack.startNexus();
        const rssBefore = rssKiB(nexus.pid);
        const started = performance.now();
        await untilServed(() => pilot.nexus.getSecret("drill/keepers"), 30_000);
        const tookMs = performance.now() - started;
        figures.push(`${mode} ${Math.round(tookMs)} ms`);
        await nexus.waitFor(/root key recovered from keepers/);
        if (mode === "silent") {
          // Recovered before the silent Keeper's request even timed out.
          await nexus.waitFor(/keeper unreachable[^\n]*timed out/, 20_000);
          const text = nexus.stderr();
          assert.ok(
            text.indexOf("root key recovered from keepers") < text.indexOf("keeper unreachable"),
            "recovery did not wait for the silent Keeper",
          );
        } else {
          await nexus.waitFor(/"msg":"keeper unreachable"/);
        }
        assert.match(
          nexus.stderr(),
          new RegExp(`"msg":"keeper unreachable","keeper":"${stack.keeperUrls[2]}"`),
        );
        if (mode === "huge") {
          assert.match(nexus.stderr(), /keeper unreachable[^\n]*exceeds 65536 bytes/);
          const grewKiB = rssKiB(nexus.pid) - rssBefore;
          figures.push(`huge rss +${Math.round(grewKiB / 1024)} MiB`);
          assert.ok(grewKiB < 64 * 1024, `Nexus grew by ${grewKiB} KiB reading a huge answer`);
        }
      });
    }

    await t.step("two bad Keepers of three: 503, nothing served", async () => {
      await stack.stopKeeper(1, "SIGKILL");
      const second = await startHostileKeeper(stack, 1, "garbage");
      try {
        await stack.stopNexus("SIGKILL");
        const nexus = await stack.startNexus();
        await nexus.waitFor(/waiting for shares/, 30_000);
        for (let i = 0; i < 5; i++) {
          await assert.rejects(pilot.nexus.getSecret("drill/keepers"), (e: unknown) => {
            assert.ok(e instanceof ApiResponseError, String(e));
            assert.equal(e.status, 503);
            return true;
          });
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await second.stop("SIGKILL");
      }
    });
    console.log(`drill keepers: recovered with one hostile Keeper: ${figures.join(", ")}`);
  } finally {
    await bad?.stop("SIGKILL");
    pilot.close();
    await stack.stop();
  }
});
