/**
 * The release bundles (`deno task bundle`): built here, then the whole stack
 * runs from them, offline (an empty DENO_DIR, no node_modules), and Pilot's
 * bundle runs directly as an executable with the flags it carries.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { PROGRAMS, RELEASE_REACH } from "../scripts/release.ts";
import { permissionFlags } from "../scripts/permissions.ts";
import { run } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the release bundles run the stack offline and carry their flags", async () => {
  const out = await Deno.makeTempDir({ prefix: "spike-dist-" });
  const denoDir = await Deno.makeTempDir({ prefix: "spike-empty-deno-dir-" });
  let stack: Stack | undefined;
  try {
    const built = await run("deno", [
      "run",
      "-A",
      join(ROOT, "scripts/release.ts"),
      "bundle",
      "--out",
      out,
    ], {
      cwd: ROOT,
    });
    assert.equal(built.code, 0, built.stderr);
    for (const program of PROGRAMS) {
      const file = join(out, `${program}.js`);
      assert.equal((await Deno.stat(file)).mode! & 0o111, 0o111, `${program} is executable`);
      const [first, second] = (await Deno.readTextFile(file)).split("\n", 2);
      assert.equal(first, "#!/bin/sh");
      for (const flag of permissionFlags(program, RELEASE_REACH[program])) {
        assert.ok(second.includes(`"${flag}"`), `${program} carries ${flag}`);
      }
    }

    // Run directly: sh reads the flags from the file and execs deno with them.
    const direct = await run(join(out, "spike.js"), ["version"], {
      env: { PATH: Deno.env.get("PATH")!, DENO_DIR: denoDir, HOME: denoDir },
    });
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^spike \d+\.\d+\.\d+\n$/);

    stack = await Stack.start({
      bundles: {
        files: Object.fromEntries(PROGRAMS.map((p) => [p, join(out, `${p}.js`)])),
        env: { DENO_DIR: denoDir },
      },
    });
    const put = await stack.spike("pilot", ["secret", "put", "bundled/app", "k=v"]);
    assert.equal(put.code, 0, put.stderr);
    const get = await stack.spike("pilot", ["secret", "get", "bundled/app", "k"]);
    assert.equal(get.stdout, "v");
    assert.match(stack.nexus!.stderr(), /"msg":"listening"/);
  } finally {
    await stack?.stop();
    await Deno.remove(out, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
