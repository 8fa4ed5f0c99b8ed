/**
 * The start-up cache of the tasks (`launch/cache.ts`), in a copy of the
 * checkout: a task runs its program's bundle only while that was built from
 * exactly the current sources, concurrent first starts share one bundle, and
 * a checkout where the cache cannot be written runs the source instead.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { within } from "./support/programs.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO_DIR = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
const SKIP = new Set([".git", ".spike", "dist", "node_modules", "test-output"]);

/** A copy of the checkout (its npm packages linked, not copied), removed by `dispose`. */
async function copyCheckout(): Promise<{ root: string; [Symbol.asyncDispose](): Promise<void> }> {
  const root = await Deno.makeTempDir({ prefix: "spike-checkout-copy-" });
  const entries = [...Deno.readDirSync(ROOT)].map((e) => e.name).filter((n) => !SKIP.has(n));
  const cp = await new Deno.Command("cp", {
    args: ["-a", ...entries.map((n) => join(ROOT, n)), root],
  }).output();
  assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
  await Deno.symlink(join(ROOT, "node_modules"), join(root, "node_modules"));
  return {
    root,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** `deno task -q <name> ...args` in the checkout at `root`. */
async function task(root: string, name: string, args: string[]) {
  const out = await within(
    new Deno.Command("deno", {
      args: ["task", "-q", "--config", join(root, "deno.json"), name, ...args],
      cwd: root,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH")!, HOME: root, DENO_DIR, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output(),
    120_000,
    `deno task ${name}`,
  );
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The file the printed command runs (its last word). */
async function entryOf(root: string, program: string): Promise<string> {
  const printed = await task(root, program, ["--print-permissions"]);
  assert.equal(printed.code, 0, printed.stderr);
  return printed.stdout.trim().split(" ").at(-1)!;
}

const cacheFiles = (root: string) =>
  [...Deno.readDirSync(join(root, ".spike/cache"))].map((e) => e.name).sort();

Deno.test("a task runs its bundle only while it is of exactly the current sources", async () => {
  await using copy = await copyCheckout();
  const { root } = copy;
  const first = await task(root, "spike", ["version"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^spike \d+\.\d+\.\d+\n$/);
  assert.equal(first.stderr, "");
  const bundle = await entryOf(root, "spike");
  assert.match(bundle, new RegExp(`^${root}/\\.spike/cache/spike-[0-9a-f]{64}\\.js$`));
  // A file outside Pilot's graph changes nothing: the same bundle runs.
  await Deno.writeTextFile(join(root, "README.md"), "\nedited\n", { append: true });
  await Deno.writeTextFile(join(root, "keeper/main.ts"), "\n// edited\n", { append: true });
  assert.equal(await entryOf(root, "spike"), bundle);

  // An edited module of the graph: the next start rebuilds and runs the edit.
  const versionFile = join(root, "lib/program/version.ts");
  const source = await Deno.readTextFile(versionFile);
  await Deno.writeTextFile(versionFile, source.replace(/"\d+\.\d+\.\d+"/, '"9.8.7"'));
  const edited = await task(root, "spike", ["version"]);
  assert.equal(edited.code, 0, edited.stderr);
  assert.equal(edited.stdout, "spike 9.8.7\n");
  const rebuilt = await entryOf(root, "spike");
  assert.notEqual(rebuilt, bundle);
  // Back as it was: that content's hash again (the old bundle, or one built anew, of those bytes).
  await Deno.writeTextFile(versionFile, source);
  assert.equal(await entryOf(root, "spike"), bundle);
  assert.match((await task(root, "spike", ["version"])).stdout, /^spike \d+\.\d+\.\d+\n$/);

  // deno.lock is an input too (it pins the npm code that is inlined).
  await Deno.writeTextFile(join(root, "deno.lock"), "\n", { append: true });
  assert.notEqual(await entryOf(root, "spike"), bundle);

  // A bundle that names a hash of other content never runs, even if the list is tampered with.
  const list = JSON.parse(await Deno.readTextFile(join(root, ".spike/cache/spike.json")));
  list.files = list.files.filter((f: string) => f !== "lib/program/version.ts");
  await Deno.writeTextFile(join(root, ".spike/cache/spike.json"), JSON.stringify(list));
  const after = await entryOf(root, "spike");
  assert.ok(after.includes("/.spike/cache/spike-"), after);
  const fixed = JSON.parse(await Deno.readTextFile(join(root, ".spike/cache/spike.json")));
  assert.ok(fixed.files.includes("lib/program/version.ts"), "rebuilt with the whole graph");
});

Deno.test("concurrent first starts share one whole bundle", async () => {
  await using copy = await copyCheckout();
  const { root } = copy;
  const runs = await Promise.all([1, 2, 3].map(() => task(root, "spike", ["version"])));
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^spike \d+\.\d+\.\d+\n$/);
  }
  // One bundle and its list; no temporary file left behind.
  const files = cacheFiles(root);
  assert.equal(files.length, 2, files.join(", "));
  assert.match(files[0], /^spike-[0-9a-f]{64}\.js$/);
  assert.equal(files[1], "spike.json");
});

Deno.test("where the cache cannot be written, the task runs the source with a notice", async () => {
  await using copy = await copyCheckout();
  const { root } = copy;
  // A file where the cache folder would be (a read-only checkout fails the same way; tests
  // run as root, whom file modes do not stop).
  await Deno.mkdir(join(root, ".spike"));
  await Deno.writeTextFile(join(root, ".spike/cache"), "");
  const r = await task(root, "spike", ["version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^spike \d+\.\d+\.\d+\n$/);
  assert.match(r.stderr, /^launch: no bundle of spike \(.+\); running its source\n$/);
  const printed = await task(root, "spike", ["--print-permissions", "version"]);
  assert.equal(printed.code, 0, printed.stderr);
  const line = printed.stdout.trim();
  assert.ok(line.includes(` run --config ${root}/deno.json `), line);
  assert.ok(line.endsWith(` ${root}/pilot/main.ts version`), line);
});
