/**
 * `spike completion bash|zsh|fish`, end to end: the script comes from the
 * real `spike` (started as the launcher starts it) and is loaded by the real
 * shell; bash's completion function is called as bash calls it on <Tab>,
 * fish's `complete -C` completes a command line itself, and zsh runs its
 * completion function with the completion builtins (which exist only inside
 * a completion widget) stood in for. zsh and fish tests run when the shells
 * are installed (Debian: zsh, fish; CI installs them).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "./support/programs.ts";
import { spawnProgram } from "./support/stack.ts";
import { within } from "./support/programs.ts";

async function spike(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawnProgram("spike", { args, name: `spike ${args.join(" ")}` });
  const status = await within(proc.status, 60_000, `spike ${args.join(" ")}`);
  await proc.stop();
  return { code: status.code, stdout: proc.stdout(), stderr: proc.stderr() };
}

async function has(shell: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${shell}`]).catch(() => ({ code: 1 }))).code === 0;
}

const dir = await Deno.makeTempDir({ prefix: "spike-completion-" });

async function script(shell: string): Promise<string> {
  const r = await spike(["completion", shell]);
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, `spike.${shell}`);
  await Deno.writeTextFile(file, r.stdout);
  return file;
}

/** What bash's completion of `line` (completing its last word) offers. */
async function bashComplete(file: string, line: string): Promise<string[]> {
  const words = line.split(" ");
  const program = [
    `source ${file}`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_spike",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const r = await run("bash", ["--norc", "--noprofile", "-c", program]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((w) => w !== "");
}

Deno.test("bash: the script registers, and completes commands, flags and formats", async () => {
  const file = await script("bash");
  const registered = await run("bash", ["--norc", "-c", `source ${file}; complete -p spike`]);
  assert.equal(registered.stdout.trim(), "complete -o default -F _spike spike");
  assert.deepEqual(await bashComplete(file, "spike sec"), ["secret"]);
  assert.deepEqual(await bashComplete(file, "spike s"), ["secret", "status"]);
  assert.deepEqual(
    await bashComplete(file, "spike secret "),
    ["put", "patch", "get", "list", "delete", "undelete", "destroy", "purge", "metadata", "export"],
  );
  assert.deepEqual(await bashComplete(file, "spike secret metadata "), ["get"]);
  assert.deepEqual(await bashComplete(file, "spike secret get --"), [
    "--version",
    "--format",
    "--help",
  ]);
  assert.deepEqual(await bashComplete(file, "spike status -f "), ["human", "json", "yaml"]);
  assert.deepEqual(await bashComplete(file, "spike secret export --format j"), ["json"]);
  // A free value or a positional: nothing from us, so bash offers file names.
  assert.deepEqual(await bashComplete(file, "spike secret get app/"), []);
  assert.deepEqual(await bashComplete(file, "spike secret get -v "), []);
  // Flags before the command do not confuse the path.
  assert.deepEqual(
    await bashComplete(file, "spike policy list --path-pattern x -"),
    [
      "--path-pattern",
      "--spiffeid-pattern",
      "--format",
      "-f",
      "--help",
      "-h",
    ].filter((w) => w.startsWith("-")),
  );
  // compgen itself agrees with the word list the script built.
  const compgen = await run("bash", [
    "--norc",
    "-c",
    `source ${file}; compgen -W "$(_spike_children "")" -- c`,
  ]);
  assert.deepEqual(compgen.stdout.trim().split("\n"), ["cipher", "completion"]);
});

Deno.test("completion: a missing or unknown shell is a usage error", async () => {
  assert.equal((await spike(["completion"])).code, 2);
  const bad = await spike(["completion", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown shell 'tcsh'/);
  const help = await spike(["completion", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: spike completion bash\|zsh\|fish/);
});

Deno.test({
  name: "fish: complete -C completes commands, subcommands and formats",
  ignore: !(await has("fish")),
  fn: async () => {
    const file = await script("fish");
    const complete = async (line: string) => {
      const r = await run("fish", ["--no-config", "-c", `source ${file}; complete -C '${line}'`]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]);
    };
    assert.deepEqual(await complete("spike sec"), ["secret"]);
    assert.ok((await complete("spike secret ")).includes("metadata"));
    assert.deepEqual(await complete("spike secret metadata "), ["get"]);
    assert.deepEqual((await complete("spike status --format ")).sort(), ["human", "json", "yaml"]);
    assert.ok((await complete("spike secret get --")).includes("--version"));
  },
});

Deno.test({
  name: "zsh: the script parses; its helpers and completion function answer in zsh",
  ignore: !(await has("zsh")),
  fn: async () => {
    const file = await script("zsh");
    const parse = await run("zsh", ["-n", file]);
    assert.equal(parse.code, 0, parse.stderr);
    const r = await run("zsh", [
      "-f",
      "-c",
      `compdef() { echo "compdef $*"; }; source ${file}; ` +
      `_spike_children "$(_spike_path secret metadata)"; _spike_values "status" "-f"; ` +
      `echo "PATH intact: $(command -v ls)"`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "compdef _spike spike",
      "get",
      "human json yaml",
      `PATH intact: ${(await run("sh", ["-c", "command -v ls"])).stdout.trim()}`,
    ]);

    // The completion function itself, with zsh's completion builtins stood in for (outside a
    // completion widget they do not exist): what it would offer, in zsh's own words array.
    const offer = async (line: string) => {
      const words = line.split(" ");
      const program = [
        "compdef() { :; }",
        'compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; print -l -- "$@"; }',
        '_files() { print -- "<files>"; }',
        `source ${file}`,
        `words=(${words.map((w) => `'${w}'`).join(" ")})`,
        `CURRENT=${words.length}`,
        `PREFIX='${words.at(-1)}'`,
        "_spike",
      ].join("\n");
      const out = await run("zsh", ["-f", "-c", program]);
      assert.equal(out.code, 0, out.stderr);
      return out.stdout.split("\n").filter((w) => w !== "");
    };
    assert.ok((await offer("spike ")).includes("completion"));
    assert.deepEqual(await offer("spike secret metadata "), ["get"]);
    assert.deepEqual(await offer("spike status -f "), ["human", "json", "yaml"]);
    assert.ok((await offer("spike secret get --")).includes("--version"));
    assert.deepEqual(await offer("spike secret get "), ["<files>"]);
  },
});
