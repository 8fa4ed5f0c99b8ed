/**
 * The README's "Using the CLI" transcript, run as written against a real
 * stack: every `$ ` line goes through `sh` with the `spike` command that
 * `deno task install` writes (the same launcher as `deno task -q spike`), and
 * what it prints (stdout and stderr, as a terminal shows them) must be the
 * README's text, times aside. The `spike run` examples of the README and of
 * `spike run --help` must keep `$NAME` away from the caller's shell.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { spikeScript } from "../scripts/install.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
const README = await Deno.readTextFile(join(ROOT, "README.md"));

/** The `$ command` / output pairs of the first console block after `heading`. */
function transcript(heading: string): { command: string; output: string }[] {
  const section = README.slice(README.indexOf(heading));
  const block = section.match(/```console\n([\s\S]*?)```/)?.[1];
  assert.ok(block, `a console block under ${heading}`);
  const entries: { command: string; output: string }[] = [];
  for (const line of block.split("\n").slice(0, -1)) {
    if (line.startsWith("$ ")) entries.push({ command: line.slice(2), output: "" });
    else entries[entries.length - 1].output += `${line}\n`;
  }
  return entries;
}

const times = (text: string) => text.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, "<time>");

Deno.test("the README's Using the CLI transcript is what the programs print", async () => {
  const entries = transcript("## Using the CLI");
  assert.ok(entries.length >= 8, `only ${entries.length} commands found`);
  const stack = await Stack.start();
  const bin = join(stack.dir, "bin");
  const cwd = join(stack.dir, "user");
  try {
    await Deno.mkdir(bin);
    await Deno.mkdir(cwd);
    await Deno.writeTextFile(join(bin, "spike"), spikeScript(ROOT, Deno.execPath()));
    await Deno.chmod(join(bin, "spike"), 0o755);
    const env = {
      PATH: `${bin}:${dirname(Deno.execPath())}:/usr/bin:/bin`,
      HOME: cwd,
      DENO_DIR, // the packages from the cache: the user's HOME is a temporary folder
      NO_COLOR: "1",
      SPIFFE_ENDPOINT_SOCKET: `unix://${stack.socket("pilot")}`,
      SPIKE_NEXUS_API_URL: stack.nexusUrl,
    };
    for (const { command, output } of entries) {
      assert.ok(command.includes("deno task -q spike"), `the README shows -q: ${command}`);
      const line = command.replaceAll("deno task -q spike", "spike");
      const out = await new Deno.Command("sh", {
        args: ["-c", `exec 2>&1; ${line}`],
        cwd,
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
      }).output();
      let printed = new TextDecoder().decode(out.stdout);
      // A raw value ends with a newline only on a terminal, which the README shows.
      if (printed !== "" && !printed.endsWith("\n")) printed += "\n";
      assert.equal(times(printed), times(output), `$ ${command}`);
    }
  } finally {
    await stack.stop();
  }
});

Deno.test("spike run examples keep $NAME inside single quotes, for the command's shell", () => {
  const help = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", join(ROOT, "pilot/main.ts"), "run", "--help"],
    stdout: "piped",
  }).outputSync();
  const helpText = new TextDecoder().decode(help.stdout);
  assert.equal(help.code, 0);
  const examples = [
    ...README.matchAll(/^.*spike run --secret.*$/gm),
    ...helpText.matchAll(
      /^.*spike run --secret.*$/gm,
    ),
  ].map((m) => m[0]);
  assert.ok(examples.length >= 3, `found ${examples}`);
  for (const example of examples) {
    // Outside single quotes the caller's shell would expand $USER before spike runs.
    const unquoted = example.slice(example.indexOf(" -- ")).replace(/'[^']*'/g, "");
    assert.doesNotMatch(unquoted, /\$[A-Z_{]/, example);
  }
});
