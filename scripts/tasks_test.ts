import assert from "node:assert/strict";
import { INSTALL_TASK, programTasks } from "./tasks.ts";

Deno.test("deno.json runs each program through the launcher", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const [name, command] of Object.entries(programTasks())) {
    assert.equal(
      config.tasks[name],
      command,
      `task "${name}" differs; run: deno run --allow-read=deno.json --allow-write=deno.json scripts/tasks.ts --write`,
    );
  }
  assert.equal(config.tasks.install, INSTALL_TASK);
  // Only harnesses get everything: the tests, and the bench (Deno lets only --allow-all read
  // another process's /proc/<pid>/status, where Nexus's memory use is; the rotation bench runs
  // Nexus's state and real stores in its own process, with throwaway folders).
  for (const [name, command] of Object.entries(config.tasks) as [string, string][]) {
    if (name === "test" || name === "bench" || name.startsWith("bench:")) continue;
    assert.ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), `task ${name} must not use -A`);
  }
});
