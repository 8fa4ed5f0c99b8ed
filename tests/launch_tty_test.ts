/**
 * A hidden prompt through `deno task spike`, on a real pseudo-terminal
 * (python3's `pty`): the task's shell execs Pilot on the terminal it was
 * given, so `KEY=-` asks for the value without echoing it, and the value
 * typed is the one stored; `spike operator restore` reads a recovery share
 * the same way, and Nexus takes it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatRecoveryLine } from "../lib/crypto/shamir.ts";
import { nexusAs } from "./support/clients.ts";
import { run } from "./support/programs.ts";
import type { Identity } from "../dev/stack/harness.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Runs argv on a new pseudo-terminal; when its output shows `prompt`, types
 * `typed` and Enter. Prints {output, code} as JSON once the command exits.
 */
const DRIVER = `
import json, os, pty, sys
argv, prompt, typed = json.loads(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent = b"", False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and prompt in out:
        os.write(fd, typed + b"\\r")
        sent = True
_, status = os.waitpid(pid, 0)
print(json.dumps({"output": out.decode(errors="replace"), "code": os.waitstatus_to_exitcode(status)}))
`;

/** Pilot's environment on the stack, as `identity`. */
function pilotEnv(stack: Stack, identity: Identity): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH")!,
    HOME: Deno.env.get("HOME")!,
    NO_COLOR: "1",
    TERM: "dumb",
    SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket(identity)}`,
    SPIKE_NEXUS_API_URL: stack.nexusUrl,
  };
}

/** `deno task spike ...args` on a terminal, typing `typed` at `prompt`. */
async function onTerminal(
  env: Record<string, string>,
  args: string[],
  prompt: string,
  typed: string,
): Promise<{ output: string; code: number }> {
  const argv = ["deno", "task", "-q", "--config", join(ROOT, "deno.json"), "spike", ...args];
  const driven = await run("python3", ["-c", DRIVER, JSON.stringify(argv), prompt, typed], {
    env,
  });
  assert.equal(driven.code, 0, driven.stderr);
  return JSON.parse(driven.stdout);
}

Deno.test("KEY=- through deno task reads a hidden line from the terminal", async () => {
  const stack = await Stack.start();
  try {
    const env = pilotEnv(stack, "pilot");
    const typed = "typed-Secret-4711";
    const { output, code } = await onTerminal(
      env,
      ["secret", "put", "tty/app", "pass=-"],
      "value for pass: ",
      typed,
    );
    assert.equal(code, 0, output);
    assert.match(output, /value for pass: /, "Pilot asked on the terminal");
    assert.ok(!output.includes(typed), `the typed value was echoed: ${JSON.stringify(output)}`);

    // Stored as typed (read back without a terminal).
    const got = await run("deno", [
      "task",
      "-q",
      "--config",
      join(ROOT, "deno.json"),
      "spike",
      "secret",
      "get",
      "tty/app",
      "pass",
    ], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, typed);
  } finally {
    await stack.stop();
  }
});

Deno.test("spike operator restore through deno task reads each share hidden from the terminal", async () => {
  const stack = await Stack.start();
  const recoverer = await nexusAs(stack, "pilot-recover");
  try {
    const shares = (await recoverer.nexus.recover()).map(formatRecoveryLine);
    assert.equal((await stack.spike("pilot", ["secret", "put", "tty/kept", "k=v"])).code, 0);
    // Every copy of the key gone: Nexus and the Keepers restarted with nothing in memory.
    await stack.stopNexus("SIGKILL");
    for (let i = 0; i < 3; i++) {
      await stack.stopKeeper(i, "SIGKILL");
      await stack.startKeeper(i);
    }
    await stack.startNexus();
    const env = pilotEnv(stack, "pilot-restore");
    const outputs = [];
    for (const share of shares.slice(0, 2)) {
      const { output, code } = await onTerminal(
        env,
        ["operator", "restore"],
        "Enter recovery shard: ",
        share.trim(),
      );
      assert.equal(code, 0, output);
      assert.ok(!output.includes(share.trim().slice(-16)), `the share was echoed: ${output}`);
      outputs.push(output);
    }
    assert.match(outputs[0], /Share accepted: 1 collected, 1 more needed\./);
    assert.match(outputs[1], /Nexus has its root key back and is serving\./);
    const got = await stack.spike("pilot", ["secret", "get", "tty/kept", "k"]);
    assert.equal(got.stdout, "v", got.stderr);
  } finally {
    recoverer.close();
    await stack.stop();
  }
});
