import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { PROGRAMS as REGISTRY } from "../lib/config/programs.ts";
import { compileCommands, PROGRAMS } from "./release.ts";
import { bundleHeader } from "../launch/bundle.ts";

Deno.test("compile bakes each program's flags, with HOME filled in", () => {
  const commands = compileCommands("/out", "/home/spike", "x86_64-unknown-linux-gnu");
  assert.equal(commands.length, PROGRAMS.length);
  const nexus = commands[PROGRAMS.indexOf("nexus")];
  assert.equal(nexus[0], "compile");
  assert.ok(nexus.includes("--unstable-kv"));
  assert.ok(
    nexus.some((a) => a.startsWith("--allow-read=") && a.includes("/home/spike/.spike/data")),
  );
  assert.ok(!nexus.some((a) => a.includes("${")), "no unexpanded variable");
  assert.ok(nexus.includes("--allow-net"), "peers are chosen at deployment");
  assert.ok(
    commands[PROGRAMS.indexOf("agent")].some((a) => a.startsWith("--allow-net=unix:")),
    "the agent stays narrow",
  );
  assert.deepEqual(nexus.slice(-5), [
    "--target",
    "x86_64-unknown-linux-gnu",
    "--output",
    "/out/nexus",
    "nexus/main.ts",
  ]);
  assert.ok(!commands.some((c) => c.includes("-A") || c.includes("--allow-all")));
});

Deno.test("a bundle's first lines are sh that runs its launcher and evals its command", () => {
  const [first, second] = bundleHeader("keeper").split("\n");
  assert.equal(first, "#!/bin/sh");
  assert.match(
    second,
    /^\/\/bin\/true; c=\$\(deno run --no-config --no-prompt "--allow-env=[^"]+" "\$0" --spike-launch "\$@"\) \|\| exit; eval "\$c"; exit$/,
  );
  assert.ok(!second.includes("--allow-read"), "a Keeper's launcher reads no file");
});

Deno.test("the Dockerfile copies every folder the release build and the programs import", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const dockerfile = await Deno.readTextFile(join(root, "Dockerfile"));
  const copied = new Set(
    [...dockerfile.matchAll(/^COPY (?!--from)(\S+) \.\/\S*$/gm)].map((m) => m[1]),
  );
  const entries = ["scripts/release.ts", ...PROGRAMS.map((p) => REGISTRY[p].entry)];
  const needed = new Set<string>();
  for (const entry of entries) {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(info.success, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: { specifier: string }[];
    };
    for (const { specifier } of graph.modules) {
      if (!specifier.startsWith("file://")) continue;
      needed.add(relative(root, new URL(specifier).pathname).split("/")[0]);
    }
  }
  const missing = [...needed].filter((folder) => !copied.has(folder));
  assert.deepEqual(missing, [], `the Dockerfile's build stage does not COPY ${missing.join(", ")}`);
});
