/**
 * The launcher behind `deno task nexus|keeper|bootstrap|spike|agent`: prints
 * shell code that `exec`s `deno run` with exactly the grants the program's
 * configuration names (see `command.ts`). The task runs it as
 *
 *   sh -c 'c=$(deno run --allow-env=... launch/main.ts PROGRAM "$@") || exit; eval "$c"'
 *
 * `deno task PROGRAM --print-permissions [ARGS]` prints the command instead.
 * Its own grant: the variables it reads (and, for the dev agent, reading
 * the `--registration` file).
 *
 * @module
 */

import { isProgram, PROGRAM_NAMES } from "../lib/config/programs.ts";
import { currentConfiguration, launcherOutput } from "./command.ts";

/** The checkout this launcher belongs to. */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

if (import.meta.main) {
  const [program, ...args] = Deno.args;
  if (program === undefined || !isProgram(program)) {
    console.error(`launch: name a program: ${PROGRAM_NAMES.join(", ")}`);
    Deno.exit(2);
  }
  console.log(
    launcherOutput(program, { kind: "checkout", root: ROOT }, args, currentConfiguration()),
  );
}
