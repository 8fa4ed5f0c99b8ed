/**
 * `deno task dev` driven as a user would: start it, put and get a secret with
 * `deno task spike`, press Ctrl-C, start it again, get the same value, and
 * survive the agent dying. It runs
 * in a temporary copy of the checkout (sources linked), so a developer's own
 * `.spike/` is never touched. It uses the dev stack's fixed ports, so while a
 * developer's own `deno task dev` holds them it is skipped with a note saying
 * so (never in CI, where busy ports are a failure to see).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_PORTS } from "../lib/config/programs.ts";
import { run, within } from "./support/programs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const LINKED = [
  "lib",
  "nexus",
  "keeper",
  "pilot",
  "bootstrap",
  "dev",
  "launch",
  "scripts",
  "node_modules",
];

async function checkout(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "spike-dev-" });
  for (const name of LINKED) await Deno.symlink(join(ROOT, name), join(dir, name));
  for (const name of ["deno.json", "deno.lock"]) {
    await Deno.copyFile(join(ROOT, name), join(dir, name));
  }
  return dir;
}

/** `deno task dev` in its own process group, as a terminal would run it. */
async function startDev(dir: string) {
  const child = new Deno.Command("setsid", {
    args: ["deno", "task", "dev"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const started = performance.now();
  await within(
    (async () => {
      // The banner's last line: the test reads lines printed after "SPIKE is running".
      while (!out.includes("production keeps them offline")) {
        if (/^dev: /m.test(out)) throw new Error(out);
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
    90_000,
    "deno task dev starting",
  );
  let stopped = false;
  return {
    seconds: (performance.now() - started) / 1000,
    output: () => out,
    get running() {
      return !stopped;
    },
    async ctrlC() {
      stopped = true;
      await run("kill", ["-INT", "--", `-${child.pid}`]); // the whole group, like a terminal
      const status = await within(child.status, 30_000, "deno task dev stopping");
      await pumps;
      return status;
    },
  };
}

/** The dev stack's ports that something already listens on. */
function busyDevPorts(): number[] {
  return [...DEFAULT_PORTS.keepers, DEFAULT_PORTS.nexus].filter((port) => {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return false;
    } catch {
      return true;
    }
  });
}

const busy = busyDevPorts();
const skip = busy.length > 0 && !Deno.env.get("CI");
if (skip) {
  console.log(
    `tests/dev_test.ts skipped: the dev stack's port(s) ${busy.join(", ")} are in use ` +
      "(is your own `deno task dev` running?); stop it to run this test",
  );
}

Deno.test({
  name: "deno task dev: start, put, get, Ctrl-C, start again, same value",
  ignore: skip,
}, async () => {
  const dir = await checkout();
  const stacks: Awaited<ReturnType<typeof startDev>>[] = [];
  const spike = (args: string[], stdin?: string) =>
    run("deno", ["task", "spike", ...args], { cwd: dir, stdin, env: { NO_COLOR: "1" } });
  try {
    const first = await startDev(dir);
    stacks.push(first);
    console.log(
      `deno task dev ready in ${first.seconds.toFixed(1)} s (first start, with Bootstrap)`,
    );
    assert.match(first.output(), /deno task -q spike secret put demo\/db user=admin pass=-/);
    assert.match(first.output(), /development convenience only/);
    const put = await spike(["secret", "put", "demo/db", "user=admin", "pass=-"], "s3cr3t\n");
    assert.equal(put.code, 0, put.stderr);
    assert.equal((await spike(["secret", "get", "demo/db", "pass"])).stdout, "s3cr3t");
    const stopped = await first.ctrlC();
    assert.equal(stopped.code, 0, first.output());
    assert.match(first.output(), /stopped\./);
    const mode = (await Deno.stat(join(dir, ".spike/dev/recover/spike.recovery.1.txt"))).mode! &
      0o777;
    assert.equal(mode, 0o600);

    const second = await startDev(dir);
    stacks.push(second);
    console.log(
      `deno task dev ready in ${second.seconds.toFixed(1)} s (restart, restoring the key)`,
    );
    const get = await spike(["secret", "get", "demo/db", "pass"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, "s3cr3t");

    // The agent dying (Deno's node:http2 can abort it) does not take the stack down.
    const agentPattern = `--data-dir ${join(dir, ".spike/agent")}$`;
    const killed = await run("pkill", ["-ABRT", "-f", "--", agentPattern]);
    assert.equal(killed.code, 0, "found the agent process");
    await within(
      (async () => {
        // "starting it again" comes before the new agent serves; a Pilot call in between
        // finds no Workload API, so wait for the line that says it is back.
        while (
          !/agent stopped \(exit 134\); starting it again[^]*agent ready again/.test(
            second.output(),
          )
        ) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      20_000,
      "the stack restarting its agent",
    );
    const afterAgent = await spike(["secret", "get", "demo/db", "pass"]);
    assert.equal(afterAgent.code, 0, afterAgent.stderr + second.output());
    assert.equal(afterAgent.stdout, "s3cr3t");
    assert.equal((await second.ctrlC()).code, 0, second.output());
  } finally {
    // A failed assertion must not leave a stack holding the dev ports.
    for (const stack of stacks) if (stack.running) await stack.ctrlC().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
