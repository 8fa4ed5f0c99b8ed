/**
 * The launcher inside a release bundle. A bundle (`dist/nexus.js` ...) is a
 * shell script and a module at once: `sh` runs its second line, which runs
 * the bundle as the launcher (`--spike-launch`) and `eval`s what it prints,
 * so Deno is exec'd on the same file with the grants of the configuration.
 *
 * @module
 */

import type { Program } from "../lib/config/programs.ts";
import { currentConfiguration, LAUNCHER_ENV, launcherOutput } from "./command.ts";

/** The first argument that makes a bundle its own launcher. */
export const LAUNCH_MARK = "--spike-launch";

/**
 * The first two lines of a bundle. Linux cuts a `#!` line at 256 bytes, so
 * `sh` runs line 2 (`//bin/true` is `/bin/true`); to JavaScript it is a comment.
 */
export function bundleHeader(program: Program): string {
  const read = program === "agent" ? " --allow-read" : "";
  const launcher = `deno run --no-config --no-prompt "--allow-env=${LAUNCHER_ENV}"${read}`;
  return `#!/bin/sh\n//bin/true; c=$(${launcher} "$0" ${LAUNCH_MARK} "$@") || exit; eval "$c"; exit`;
}

/** Prints the shell code that runs the bundle at `bundleUrl` as `program` with `args`. */
export function launchBundle(program: Program, bundleUrl: string, args: string[]): void {
  const file = decodeURIComponent(new URL(bundleUrl).pathname);
  console.log(launcherOutput(program, { kind: "bundle", file }, args, currentConfiguration()));
}

/** The module a bundle is built from: the launcher, and the program loaded only when not launching. */
export function bundleEntry(
  program: Program,
  launcherModule: string,
  programModule: string,
): string {
  return [
    `import { launchBundle } from ${JSON.stringify(launcherModule)};`,
    `if (Deno.args[0] === ${JSON.stringify(LAUNCH_MARK)}) {`,
    `  launchBundle(${JSON.stringify(program)}, import.meta.url, Deno.args.slice(1));`,
    `} else {`,
    `  await import(${JSON.stringify(programModule)});`,
    `}`,
    ``,
  ].join("\n");
}
