/** The README documents every variable the programs read and every task. */

import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const SOURCES = ["lib", "nexus", "keeper", "pilot", "bootstrap", "dev"];

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield path;
  }
}

Deno.test("every SPIKE_* variable the programs read is in the README's configuration", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const configuration = readme.slice(readme.indexOf("## Configuration"));
  const names = new Set<string>();
  for (const dir of SOURCES) {
    for await (const file of sources(join(ROOT, dir))) {
      for (const [, name] of (await Deno.readTextFile(file)).matchAll(/"(SPIKE_[A-Z0-9_]+)"/g)) {
        names.add(name);
      }
    }
  }
  assert.ok(names.size > 20, `only ${names.size} variables found: the scan is broken`);
  // The trust-root variables are listed together as SPIKE_TRUST_ROOT_NEXUS, `_KEEPER`, ...
  const listed = (name: string) =>
    configuration.includes(name) ||
    (name.startsWith("SPIKE_TRUST_ROOT_") && configuration.includes(`\`_${name.slice(17)}\``)) ||
    (name.startsWith("SPIKE_BOOTSTRAP_") && configuration.includes(`\`_${name.slice(16)}\``));
  const missing = [...names].filter((n) => !listed(n)).sort();
  assert.deepEqual(missing, [], `not documented in the README's Configuration: ${missing}`);
});

Deno.test("every deno.json task is mentioned in the README", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const { tasks } = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const missing = Object.keys(tasks).filter((t) =>
    !readme.includes(`deno task ${t}`) && !readme.includes(`\`${t}\``)
  );
  assert.deepEqual(missing, []);
});

Deno.test("the README's layout table lists every folder in the repository", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const layout = readme.slice(readme.indexOf("## Layout"));
  // First cells such as `lib/api/`, or `keeper/`, `bootstrap/`; `pilot/commands/*/` covers subfolders.
  const rows = layout.split("\n").filter((line) => line.startsWith("| `")).map((line) =>
    line.split("|")[1]
  );
  const listed = rows.flatMap((cell) => [...cell.matchAll(/`([^`]+)\/`/g)].map((m) => m[1]));
  assert.ok(listed.length > 20, `only ${listed.length} folders in the table: the scan is broken`);
  const out = await new Deno.Command("git", { args: ["ls-files"], cwd: ROOT, stdout: "piped" })
    .output();
  assert.ok(out.success, "git ls-files failed");
  const folders = new Set(
    new TextDecoder().decode(out.stdout).split("\n").filter((f) => f.includes("/")).map((f) =>
      f.slice(0, f.lastIndexOf("/"))
    ),
  );
  const covered = (folder: string) =>
    listed.includes(folder) ||
    listed.some((l) => l.endsWith("/*") && dirnameOf(folder) === l.slice(0, -2));
  const missing = [...folders].filter((f) => !covered(f)).sort();
  assert.deepEqual(missing, [], `not in the README's Layout table: ${missing.join(", ")}`);
});

function dirnameOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
}
