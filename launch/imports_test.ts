import assert from "node:assert/strict";

// The launcher runs before every program the tasks and bundles start, so its
// start-up is added to theirs: a `node:` module loads Deno's Node
// compatibility layer (about 100 ms on 2 cores) and an npm package more.
for (const entry of ["main.ts", "bundle.ts"]) {
  Deno.test(`launch/${entry} imports no node: or npm: module`, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(entry, import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: { specifier: string }[];
    };
    const specifiers = graph.modules.map((m) => m.specifier);
    assert.ok(specifiers.some((s) => s.endsWith("/lib/config/programs.ts")), "graph read");
    const heavy = specifiers.filter((s) => !s.startsWith("file:"));
    assert.deepEqual(heavy, [], "the launcher's graph must stay local TypeScript");
  });
}
