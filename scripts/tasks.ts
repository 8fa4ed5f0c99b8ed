/**
 * The `deno.json` tasks of the programs. Each runs the launcher
 * (`launch/main.ts`), which computes the program's grants from its
 * configuration at every start and has `sh` exec `deno run` with them:
 *
 *   deno run --allow-read=deno.json --allow-write=deno.json scripts/tasks.ts --write
 *
 * rewrites the tasks; `tasks_test.ts` fails when deno.json and this disagree.
 *
 * @module
 */

import { launcherArgs } from "../launch/command.ts";
import { DEFAULT_PORTS, DEV_HOST, type Program, PROGRAM_NAMES } from "../lib/config/programs.ts";

/** The task that starts `program` through the launcher. */
export function launcherTask(program: Program): string {
  // --no-config: the launcher's graph is local modules only (launch/imports_test.ts), so it skips
  // reading deno.json and deno.lock and setting up npm resolution, which the program does anyway.
  // The task runs in the checkout: its sh reads $PWD (a word with $ or * in double quotes).
  const launcher = ["deno", ...launcherArgs(program, "$PWD")]
    .map((w) => /[$*]/.test(w) ? `"${w}"` : w).join(" ");
  return `sh -c 'c=$(${launcher} "$@") || exit; eval "$c"' ${program}`;
}

/** The task command of each program, and of the dev stack. */
export function programTasks(): Record<Program | "dev", string> {
  const tasks = Object.fromEntries(PROGRAM_NAMES.map((p) => [p, launcherTask(p)])) as Record<
    Program | "dev",
    string
  >;
  // The dev stack starts the programs itself, each with the grants of its configuration.
  const ports = [...DEFAULT_PORTS.keepers, DEFAULT_PORTS.nexus];
  tasks.dev = [
    "deno run",
    "--no-prompt",
    "--allow-run=deno",
    "--allow-read=$PWD",
    "--allow-write=$PWD/.spike",
    `--allow-net=${ports.map((p) => `${DEV_HOST}:${p}`).join(",")}`,
    "dev/stack/main.ts",
  ].join(" ");
  return tasks;
}

/** `deno task install [DIR]`: writes the `spike` command (see install.ts), mode 0755. */
export const INSTALL_TASK = `sh -c 'd="\${1:-$HOME/.local/bin}"; ` +
  // A relative DIR is the caller's folder's, not the checkout's.
  `case "$d" in /*) ;; *) d="$INIT_CWD/$d" ;; esac; mkdir -p "$d" && ` +
  `deno run --no-prompt scripts/install.ts > "$d/spike.new" && chmod 755 "$d/spike.new" && ` +
  `mv "$d/spike.new" "$d/spike" && echo "installed $d/spike"' install`;

if (import.meta.main) {
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const tasks = programTasks();
  if (Deno.args.includes("--write")) {
    config.tasks = { ...config.tasks, ...tasks, install: INSTALL_TASK };
    await Deno.writeTextFile("deno.json", JSON.stringify(config, null, 2) + "\n");
  } else {
    for (const [name, command] of Object.entries(tasks)) console.log(`${name}: ${command}`);
  }
}
