import assert from "node:assert/strict";
import { join } from "../lib/std/path.ts";
import { bundlePath, CACHE_DIR, currentBundle, inputsHash } from "./cache.ts";

/** A stand-in checkout: the always-hashed files and two modules. */
async function checkout(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "spike-cache-unit-" });
  await Deno.mkdir(join(root, "launch"));
  await Deno.mkdir(join(root, "keeper"));
  for (
    const [name, text] of Object.entries({
      "deno.json": "{}",
      "deno.lock": "{}",
      "launch/cache.ts": "recipe",
      "keeper/main.ts": 'import "./a.ts";',
      "keeper/a.ts": "export {};",
    })
  ) await Deno.writeTextFile(join(root, name), text);
  await Deno.mkdir(join(root, CACHE_DIR), { recursive: true });
  return root;
}

const FILES = ["keeper/a.ts", "keeper/main.ts"];

Deno.test("the inputs' hash changes with any content, name or file of the set", async () => {
  const root = await checkout();
  try {
    const base = await inputsHash(root, "keeper", FILES);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(await inputsHash(root, "keeper", [...FILES].reverse()), base, "order-free");
    assert.notEqual(await inputsHash(root, "nexus", FILES), base, "per program");
    assert.notEqual(await inputsHash(root, "keeper", ["keeper/main.ts"]), base, "file set");
    for (const name of ["deno.json", "deno.lock", "launch/cache.ts", "keeper/a.ts"]) {
      const text = await Deno.readTextFile(join(root, name));
      await Deno.writeTextFile(join(root, name), text + " ");
      assert.notEqual(await inputsHash(root, "keeper", FILES), base, name);
      await Deno.writeTextFile(join(root, name), text);
    }
    assert.equal(await inputsHash(root, "keeper", FILES), base);
    // Content moved between two files (same bytes in all) is another input.
    await Deno.writeTextFile(join(root, "keeper/a.ts"), 'export {};import "./a.ts";');
    await Deno.writeTextFile(join(root, "keeper/main.ts"), "");
    assert.notEqual(await inputsHash(root, "keeper", FILES), base);
    await Deno.remove(join(root, "keeper/a.ts"));
    await assert.rejects(inputsHash(root, "keeper", FILES), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a bundle is current only with its list, its hash and its file", async () => {
  const root = await checkout();
  try {
    assert.equal(await currentBundle(root, "keeper"), undefined, "no list");
    const hash = await inputsHash(root, "keeper", FILES);
    const list = join(root, CACHE_DIR, "keeper.json");
    await Deno.writeTextFile(list, JSON.stringify({ hash, files: FILES }));
    assert.equal(await currentBundle(root, "keeper"), undefined, "no bundle file");
    await Deno.writeTextFile(bundlePath(root, "keeper", hash), "// bundle");
    assert.equal(await currentBundle(root, "keeper"), bundlePath(root, "keeper", hash));

    await Deno.writeTextFile(join(root, "keeper/a.ts"), "export const x = 1;");
    assert.equal(await currentBundle(root, "keeper"), undefined, "a module edited");
    await Deno.writeTextFile(join(root, "keeper/a.ts"), "export {};");
    assert.ok(await currentBundle(root, "keeper"));
    await Deno.writeTextFile(list, JSON.stringify({ hash, files: ["keeper/main.ts"] }));
    assert.equal(await currentBundle(root, "keeper"), undefined, "a list short of a module");
    for (const bad of ["", "{}", JSON.stringify({ hash: "../x", files: FILES }), "[1]"]) {
      await Deno.writeTextFile(list, bad);
      assert.equal(await currentBundle(root, "keeper"), undefined, bad);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
