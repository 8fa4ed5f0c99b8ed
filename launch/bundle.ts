/**
 * The launcher inside a release bundle. A bundle (`dist/nexus.js` ...) is a
 * shell script and a module at once: `sh` runs its second line, which runs
 * the bundle as the launcher (`--spike-launch`) and `eval`s what it prints,
 * so Deno is exec'd on the same file with the grants of the configuration.
 *
 * @module
 */

import { dirname, resolve } from "../lib/std/path.ts";
import { DEV_LAYOUT, type Program, PROGRAMS } from "../lib/config/programs.ts";
import { currentConfiguration, devPilotSocket, LAUNCHER_ENV, launcherOutput } from "./command.ts";

const DEV_SOCKET_IN_CHECKOUT = `${DEV_LAYOUT.sockets}/${PROGRAMS.spike.devSocket}.sock`;

/** The first argument that makes a bundle its own launcher. */
export const LAUNCH_MARK = "--spike-launch";

/**
 * The first two lines of a bundle. Linux cuts a `#!` line at 256 bytes, so
 * `sh` runs line 2 (`//bin/true` is `/bin/true`); to JavaScript it is a comment.
 */
export function bundleHeader(program: Program): string {
  // The agent's launcher reads its --registration file; Pilot's looks for the dev stack.
  const read = program === "agent"
    ? " --allow-read"
    : program === "spike"
    ? ` "--allow-read=\${0%/*}/../${DEV_SOCKET_IN_CHECKOUT}"`
    : "";
  const launcher = `deno run --no-config --no-prompt "--allow-env=${LAUNCHER_ENV}"${read}`;
  return `#!/bin/sh\n//bin/true; c=$(${launcher} "$0" ${LAUNCH_MARK} "$@") || exit; eval "$c"; exit`;
}

/** Prints the shell code that runs the bundle at `bundleUrl` as `program` with `args`. */
export function launchBundle(program: Program, bundleUrl: string, args: string[]): void {
  const file = decodeURIComponent(new URL(bundleUrl).pathname);
  // A bundle in `<checkout>/dist/` talks to that checkout's dev stack when it runs.
  const checkout = resolve(dirname(file), "..");
  let devRoot: string | undefined;
  try {
    if (program === "spike" && Deno.statSync(devPilotSocket(checkout)).isSocket) devRoot = checkout;
  } catch {
    // no dev stack there (or not ours to look at): SPIRE's socket, as configured
  }
  console.log(
    launcherOutput(program, { kind: "bundle", file, devRoot }, args, currentConfiguration()),
  );
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
