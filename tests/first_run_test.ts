/**
 * The first task a newcomer runs in a fresh clone installs the pinned npm
 * packages into `node_modules/` without the "Ignored build scripts" warning
 * (deno.json denies protobufjs's postinstall, which builds nothing), and
 * `deno task -q spike` then prints nothing but its answer. The copy lives in a
 * temporary folder; packages come from Deno's cache (no network).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../lib/program/version.ts";
import { run } from "./support/programs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SOURCES = ["lib", "nexus", "keeper", "pilot", "bootstrap", "dev", "launch", "scripts"];

/** A copy of the checkout's sources and deno.json/deno.lock, without node_modules. */
async function freshClone(editConfig: (config: Record<string, unknown>) => void = () => {}) {
  const dir = await Deno.makeTempDir({ prefix: "spike-first-run-" });
  const copied = await run("cp", ["-r", ...SOURCES.map((s) => join(ROOT, s)), dir]);
  assert.equal(copied.code, 0, copied.stderr);
  await Deno.copyFile(join(ROOT, "deno.lock"), join(dir, "deno.lock"));
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  editConfig(config);
  await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify(config, null, 2));
  return dir;
}

/** `deno task [-q] spike version` in `dir`. (`-q` would also hide the warning.) */
const spikeVersion = (dir: string, quiet = false) =>
  run("deno", ["task", ...(quiet ? ["-q"] : []), "spike", "version"], {
    cwd: dir,
    env: { NO_COLOR: "1" },
  });

const WARNING = /Ignored build scripts for packages:\s+│?\s*npm:protobufjs/;

Deno.test("a fresh clone's first task warns about nothing; deno task -q spike prints its answer only", async () => {
  const dir = await freshClone();
  try {
    const first = await spikeVersion(dir);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `spike ${VERSION}\n`);
    assert.doesNotMatch(first.stderr, WARNING);
    assert.doesNotMatch(first.stderr, /Warning|approve-scripts/);
    assert.ok((await Deno.stat(join(dir, "node_modules"))).isDirectory, "it was a first run");
    const quiet = await spikeVersion(dir, true);
    assert.equal(quiet.stdout, `spike ${VERSION}\n`);
    assert.equal(quiet.stderr, "", "no task line with -q");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without deno.json's allowScripts, the same first run warns (what the deny is for)", async () => {
  const dir = await freshClone((config) => delete config.allowScripts);
  try {
    const first = await spikeVersion(dir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, WARNING);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
