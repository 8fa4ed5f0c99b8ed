/**
 * The launcher behind `deno task nexus|keeper|bootstrap|spike|agent`: prints
 * shell code that `exec`s `deno run` with exactly the grants the program's
 * configuration names (see `command.ts`). The task runs it as
 *
 *   sh -c 'c=$(deno run --allow-env=... --allow-read=$PWD launch/main.ts PROGRAM "$@") || exit; eval "$c"'
 *
 * The program runs from its bundle in `.spike/cache` when that was built
 * from exactly the current sources (`cache.ts`). When not, the code printed
 * first runs this launcher again with {@link BUILD_MARK} and the grants to
 * build it; should that fail, the program runs from the checkout's modules,
 * with a one-line notice. `deno task PROGRAM --print-permissions [ARGS]`
 * prints the command instead. The launcher's own grant: the variables it
 * reads, and reading the checkout (to hash the sources; the dev agent's may
 * also read its `--registration` file).
 *
 * @module
 */

import { isProgram, type Program, PROGRAM_NAMES } from "../lib/config/programs.ts";
import { buildBundle, currentBundle } from "./cache.ts";
import {
  BUILD_MARK,
  builderArgs,
  currentConfiguration,
  launcherOutput,
  shellQuote,
  type Source,
} from "./command.ts";

/** The checkout this launcher belongs to. */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The shell code for `program` with `args`: the program's start, or its build and then start. */
async function output(program: Program, args: string[], build: boolean): Promise<string> {
  const config = currentConfiguration();
  const checkout: Source = { kind: "checkout", root: ROOT };
  // From the cache, Pilot finds the checkout's dev stack as from the source.
  const from = (file: string) =>
    launcherOutput(program, { kind: "bundle", file, devRoot: ROOT }, args, config);
  if (build) {
    try {
      return from(await buildBundle(ROOT, program));
    } catch (e) {
      console.error(
        `launch: no bundle of ${program} (${(e as Error).message}); running its source`,
      );
      return launcherOutput(program, checkout, args, config);
    }
  }
  const file = await currentBundle(ROOT, program);
  if (file) return from(file);
  // Should the builder itself die, the program still starts, from its source.
  const notice = `launch: could not run the bundler for ${program}; running its source`;
  const builder = [Deno.execPath(), ...builderArgs(program, ROOT), ...args].map(shellQuote);
  return [
    `c=$(${builder.join(" ")}) || {`,
    `  echo ${shellQuote(notice)} >&2`,
    `  c=${shellQuote(launcherOutput(program, checkout, args, config))}`,
    `}`,
    `eval "$c"`,
  ].join("\n");
}

if (import.meta.main) {
  const build = Deno.args[0] === BUILD_MARK;
  const [program, ...args] = build ? Deno.args.slice(1) : Deno.args;
  if (program === undefined || !isProgram(program)) {
    console.error(`launch: name a program: ${PROGRAM_NAMES.join(", ")}`);
    Deno.exit(2);
  }
  console.log(await output(program, args, build));
}
