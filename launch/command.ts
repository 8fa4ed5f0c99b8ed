/**
 * The exact `deno run` command that starts a program with the grants of its
 * configuration, and the shell code that runs it. The shell `exec`s Deno, so
 * the program replaces the shell: signals, stdin/stdout/stderr, the terminal
 * (hidden prompts) and the exit code are the program's own, and no launcher
 * process is left to outlive it or be outlived.
 *
 * @module
 */

import { join } from "../lib/std/path.ts";
import { DEV_LAYOUT, type Program, PROGRAMS } from "../lib/config/programs.ts";
import { permissionFlags } from "./flags.ts";
import { CONFIG_ENV, type Configuration, reachFor } from "./reach.ts";
import { CACHE_DIR } from "./cache.ts";

/** Where the program's code is. */
export type Source =
  /** A checkout: `<root>/<entry>` with `<root>/deno.json`. */
  | { kind: "checkout"; root: string }
  /** A bundle (a release's, or the start-up cache's): one self-contained file (`devRoot`: the checkout whose dev stack runs). */
  | { kind: "bundle"; file: string; devRoot?: string };

/** A command to run: the environment it adds, its folder, and its words. */
export interface Launch {
  cwd: string;
  /** Variables set for the program on top of the caller's. */
  env: Record<string, string>;
  argv: string[];
}

/**
 * The command for `program` from `source` with `config`. From a checkout
 * (or a bundle built in one whose dev stack runs), Pilot uses the dev stack's
 * superuser socket when no socket is configured, as `deno task spike` does.
 */
export function launchCommand(
  program: Program,
  source: Source,
  config: Configuration,
  { deno = Deno.execPath() }: { deno?: string } = {},
): Launch {
  const env: Record<string, string> = {};
  const devRoot = source.kind === "checkout" ? source.root : source.devRoot;
  if (
    devRoot && program === "spike" && !config.env.SPIFFE_ENDPOINT_SOCKET &&
    !config.env.SPIKE_PILOT_DEFAULT_SOCKET
  ) {
    env.SPIKE_PILOT_DEFAULT_SOCKET = `unix://${devPilotSocket(devRoot)}`;
  }
  const reach = reachFor(program, { ...config, env: { ...config.env, ...env } });
  const code = source.kind === "checkout"
    ? ["--config", join(source.root, "deno.json"), join(source.root, PROGRAMS[program].entry)]
    : ["--no-config", source.file];
  const entry = code.pop()!;
  return {
    cwd: config.cwd,
    env,
    argv: [
      deno,
      "run",
      ...code,
      ...permissionFlags(program, reach),
      entry,
      ...config.args,
    ],
  };
}

/** The dev stack's superuser socket in the checkout at `root`. */
export function devPilotSocket(root: string): string {
  return join(root, DEV_LAYOUT.sockets, `${PROGRAMS.spike.devSocket}.sock`);
}

/** A word as `sh` reads it back unchanged. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\-+=/.,:@%]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command as one line an operator can audit or paste into a unit file. */
export function commandLine(launch: Launch): string {
  const env = Object.entries(launch.env).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return [`cd ${shellQuote(launch.cwd)} &&`, ...env, ...launch.argv.map(shellQuote)].join(" ");
}

/** Shell code that runs the command in place of the shell (`exec`). */
export function execCode(launch: Launch): string {
  return [
    `cd ${shellQuote(launch.cwd)} || exit 1`,
    ...Object.entries(launch.env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `exec ${launch.argv.map(shellQuote).join(" ")}`,
  ].join("\n");
}

/** Shell code that prints the command line. */
export function printCode(launch: Launch): string {
  return `printf '%s\\n' ${shellQuote(commandLine(launch))}`;
}

/** The option that prints the command instead of running it. */
export const PRINT_OPTION = "--print-permissions";

/**
 * What the launcher prints for the shell to `eval`: run `program` with
 * `args`, or (with {@link PRINT_OPTION} first) print its command.
 */
export function launcherOutput(
  program: Program,
  source: Source,
  args: readonly string[],
  base: Omit<Configuration, "args">,
): string {
  const print = args[0] === PRINT_OPTION;
  const launch = launchCommand(program, source, { ...base, args: print ? args.slice(1) : args });
  return print ? printCode(launch) : execCode(launch);
}

/** The launcher's own grant: the variables of {@link CONFIG_ENV}. */
export const LAUNCHER_ENV = "SPIKE_*,SPIFFE_ENDPOINT_SOCKET,HOME,INIT_CWD";

/** The launcher's read grant: the checkout at `root` (to hash the sources its bundles are of). */
function launcherRead(program: Program, root: string): string {
  // The dev agent's registration file names its sockets: its launcher reads it, wherever it is.
  return program === "agent" ? "--allow-read" : `--allow-read=${root}`;
}

/** The `deno` arguments that run the launcher of the checkout at `root` for `program`. */
export function launcherArgs(program: Program, root: string): string[] {
  return [
    "run",
    "--no-config",
    "--no-prompt",
    `--allow-env=${LAUNCHER_ENV}`,
    launcherRead(program, root),
    join(root, "launch/main.ts"),
    program,
  ];
}

/** The launcher's first argument when it is to build the program's bundle first. */
export const BUILD_MARK = "--build";

/**
 * The `deno` arguments that run the launcher as the builder of the start-up
 * cache: it may also write the cache folder and run Deno (`deno info`,
 * `deno bundle`). Only a start that finds no current bundle runs it.
 */
export function builderArgs(program: Program, root: string): string[] {
  const [run, ...rest] = launcherArgs(program, root);
  const main = rest.splice(-2);
  return [
    run,
    ...rest,
    `--allow-write=${join(root, CACHE_DIR)}`,
    `--allow-run=${Deno.execPath()}`,
    main[0],
    BUILD_MARK,
    main[1],
  ];
}

/** The configuration of this process: its environment and folder (`deno task` sets INIT_CWD). */
export function currentConfiguration(): Omit<Configuration, "args"> {
  return {
    env: Object.fromEntries(CONFIG_ENV.map((name) => [name, Deno.env.get(name)])),
    cwd: Deno.env.get("INIT_CWD") || Deno.cwd(),
    readFile: (path) => Deno.readTextFileSync(path),
  };
}
