/**
 * `deno task install [DIR]`: a `spike` command for this checkout, written to
 * DIR (default `~/.local/bin`). It is a small sh script that runs the
 * launcher of `deno task spike`, so it grants what the configuration names
 * and finds the dev stack the same way, from any folder. This module prints
 * the script; the task's `sh` writes it, so this needs no permission at all.
 *
 * @module
 */

import { launcherArgs, shellQuote } from "../launch/command.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The text of the `spike` script for the checkout at `root`, run by `deno`. */
export function spikeScript(root: string, deno: string): string {
  const launcher = [deno, ...launcherArgs("spike", root)].map(shellQuote).join(" ");
  return [
    "#!/bin/sh",
    `# spike: SPIKE Pilot from ${root}, with the grants its configuration names.`,
    "# Written by `deno task install`; run it again after moving the checkout.",
    `c=$(${launcher} "$@") || exit`,
    'eval "$c"',
    "",
  ].join("\n");
}

if (import.meta.main) console.log(spikeScript(ROOT, Deno.execPath()));
