/**
 * Release builds of the programs:
 *
 *   deno task bundle    single-file bundles in dist/ (`dist/nexus.js` ...) that
 *                       run offline with Deno alone (npm code is inlined) and
 *                       are executable
 *   deno task compile   standalone binaries in dist/ (`dist/nexus` ...); this
 *                       downloads Deno's runtime once, so it runs on release
 *                       machines, not on the build machines
 *
 * A bundle computes its grants at every start from its configuration (the
 * launcher of `launch/bundle.ts` is built into it). A compiled binary cannot
 * take flags at run time, so it carries the defaults' files and env, with an
 * open network grant.
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { bundleEntry, bundleHeader } from "../launch/bundle.ts";
import { permissionFlags, type Reach } from "../launch/flags.ts";
import {
  DEFAULT_DATA_DIR_IN_HOME,
  DEV_IDENTITIES,
  DEV_LAYOUT,
  type Program,
  PROGRAM_NAMES,
  PROGRAMS as REGISTRY,
  SPIRE_SOCKETS,
} from "../lib/config/programs.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The names of the built files. */
export const PROGRAMS: Program[] = PROGRAM_NAMES;

/** What a compiled binary may touch (`home` is its user's home): SPIRE's usual sockets, `~/.spike`. */
export function compileReach(program: Program, home: string): Reach {
  const sockets = [...SPIRE_SOCKETS];
  switch (program) {
    case "nexus":
      return { sockets, folders: [join(home, DEFAULT_DATA_DIR_IN_HOME)] };
    case "spike":
      return { sockets, folders: [join(home, ".spike")] };
    case "agent":
      return {
        sockets: DEV_IDENTITIES.map((i) => join(home, DEV_LAYOUT.sockets, `${i.socket}.sock`)),
        folders: [join(home, DEV_LAYOUT.home)],
      };
    default:
      return { sockets };
  }
}

async function deno(args: string[]): Promise<void> {
  const status = await new Deno.Command("deno", { args, stdout: "inherit", stderr: "inherit" })
    .spawn().status;
  if (!status.success) throw new Error(`deno ${args[0]} failed (exit ${status.code})`);
}

const moduleSpecifier = (from: string, to: string) => {
  const path = relative(from, to);
  return path.startsWith(".") ? path : `./${path}`;
};

/** Builds `dist/<program>.js` bundles with their launcher header; returns their paths. */
export async function bundle(out: string): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  const built: string[] = [];
  for (const program of PROGRAMS) {
    const file = join(out, `${program}.js`);
    const entry = join(out, `.${program}.entry.ts`);
    await Deno.writeTextFile(
      entry,
      bundleEntry(
        program,
        moduleSpecifier(out, join(ROOT, "launch/bundle.ts")),
        moduleSpecifier(out, join(ROOT, REGISTRY[program].entry)),
      ),
    );
    try {
      await deno([
        "bundle",
        "--quiet",
        "--config",
        join(ROOT, "deno.json"),
        "--platform",
        "deno",
        "-o",
        file,
        entry,
      ]);
    } finally {
      await Deno.remove(entry);
    }
    const code = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, `${bundleHeader(program)}\n${code.replace(/^#!.*\n/, "")}`);
    await Deno.chmod(file, 0o755);
    built.push(file);
  }
  return built;
}

/**
 * The `deno compile` arguments for every program. A compiled binary takes no
 * permission flags when it runs, and the addresses of Nexus and Keepers are
 * chosen at deployment, so the servers' and clients' network grant is open;
 * files, env and run stay narrow.
 */
export function compileCommands(out: string, home: string, target?: string): string[][] {
  return PROGRAMS.map((program) => [
    "compile",
    ...permissionFlags(program, compileReach(program, home))
      .map((f) => program !== "agent" && f.startsWith("--allow-net=") ? "--allow-net" : f),
    ...(target ? ["--target", target] : []),
    "--output",
    join(out, program),
    REGISTRY[program].entry,
  ]);
}

/** Builds standalone binaries (needs Deno's runtime download). */
export async function compile(out: string, home: string, target?: string): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  for (const args of compileCommands(out, home, target)) await deno(args);
  return PROGRAMS.map((program) => join(out, program));
}

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  const flag = (name: string) => {
    const at = rest.indexOf(name);
    return at === -1 ? undefined : rest[at + 1];
  };
  const out = resolve(flag("--out") ?? "dist");
  if (command === "bundle") {
    for (const file of await bundle(out)) console.log(file);
  } else if (command === "compile") {
    const home = flag("--home") ?? Deno.env.get("HOME") ?? "/root";
    try {
      for (const file of await compile(out, home, flag("--target"))) console.log(file);
    } catch (e) {
      console.error(
        `compile: ${(e as Error).message}; deno compile downloads Deno's runtime (denort) once, ` +
          "so run it on a machine with internet access (deno task bundle works offline)",
      );
      Deno.exit(1);
    }
  } else if (command === "flags") {
    for (const program of PROGRAMS) console.log(bundleHeader(program));
  } else {
    console.error("usage: release.ts bundle|compile|flags [--out DIR] [--home DIR] [--target T]");
    Deno.exit(2);
  }
}
