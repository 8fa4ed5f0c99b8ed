/**
 * The release bundles (`deno task bundle`): built here, then the whole stack
 * runs from them as executables, offline (an empty DENO_DIR, no
 * node_modules): each bundle's launcher computes its grants from the
 * configuration it is started with.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { PROGRAMS } from "../scripts/release.ts";
import { bundleHeader } from "../launch/bundle.ts";
import { run } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the release bundles run the stack offline, each with its configuration's grants", async () => {
  // Built where `deno task bundle` puts them: dist/ in a (here: stand-in) checkout.
  const checkout = await Deno.makeTempDir({ prefix: "spike-checkout-" });
  const out = join(checkout, "dist");
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
      const text = await Deno.readTextFile(file);
      assert.ok(
        text.startsWith(`${bundleHeader(program)}\n`),
        `${program} starts with its launcher`,
      );
    }
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
      "agent.js",
      "bootstrap.js",
      "keeper.js",
      "nexus.js",
      "spike.js",
    ]);

    const env = { PATH: Deno.env.get("PATH")!, DENO_DIR: denoDir, HOME: denoDir };
    const direct = await run(join(out, "spike.js"), ["version"], { env, cwd: denoDir });
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^spike \d+\.\d+\.\d+\n$/);
    const printed = await run(join(out, "keeper.js"), ["--print-permissions"], {
      env: { ...env, SPIKE_KEEPER_TLS_PORT: "127.0.0.1:19443" },
      cwd: denoDir,
    });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(
      printed.stdout,
      new RegExp(
        `deno run --no-config .*--allow-net=unix:/tmp/spire-agent/public/api\\.sock,127\\.0\\.0\\.1:19443 .*${out}/keeper\\.js\n$`,
      ),
    );

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

    // With no socket configured, ./dist/spike.js uses its checkout's dev stack when it runs,
    // as `deno task spike` does (here the dev socket is the test stack's Pilot socket, and
    // Nexus is not on the dev port): the README's `./dist/spike.js secret list`.
    const devSockets = join(checkout, ".spike/agent/sockets");
    await Deno.mkdir(devSockets, { recursive: true });
    await Deno.symlink(stack.socket("pilot"), join(devSockets, "pilot.sock"));
    const dev = await run("./dist/spike.js", ["secret", "list"], {
      env: { ...env, SPIKE_NEXUS_API_URL: stack.nexusUrl },
      cwd: checkout,
    });
    assert.equal(dev.code, 0, dev.stderr);
    assert.equal(dev.stdout, "- bundled/app\n");
    const readme = await Deno.readTextFile(join(ROOT, "README.md"));
    assert.ok(readme.includes("(`./dist/spike.js secret list`)"), "the README's example");
    // kill -9 of Nexus: it comes back with its key from the Keepers.
    await stack.stopNexus("SIGKILL");
    await stack.startNexus();
    await stack.nexus!.waitFor(/root key (recovered|restored)/, 30_000);
    assert.equal((await stack.spike("pilot", ["secret", "get", "bundled/app", "k"])).stdout, "v");
  } finally {
    await stack?.stop();
    await Deno.remove(checkout, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
