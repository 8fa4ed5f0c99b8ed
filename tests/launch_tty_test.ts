/**
 * A hidden prompt through `deno task spike`, on a real pseudo-terminal
 * (python3's `pty`): the task's shell execs Pilot on the terminal it was
 * given, so `KEY=-` asks for the value without echoing it, and the value
 * typed is the one stored.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "./support/programs.ts";
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

Deno.test("KEY=- through deno task reads a hidden line from the terminal", async () => {
  const stack = await Stack.start();
  try {
    const env = {
      PATH: Deno.env.get("PATH")!,
      HOME: Deno.env.get("HOME")!,
      NO_COLOR: "1",
      TERM: "dumb",
      SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket("pilot")}`,
      SPIKE_NEXUS_API_URL: stack.nexusUrl,
    };
    const typed = "typed-Secret-4711";
    const argv = [
      "deno",
      "task",
      "-q",
      "--config",
      join(ROOT, "deno.json"),
      "spike",
      "secret",
      "put",
      "tty/app",
      "pass=-",
    ];
    const driven = await run("python3", [
      "-c",
      DRIVER,
      JSON.stringify(argv),
      "value for pass: ",
      typed,
    ], {
      env,
    });
    assert.equal(driven.code, 0, driven.stderr);
    const { output, code } = JSON.parse(driven.stdout);
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
