/**
 * Release builds of the programs, with their permission flags baked in:
 *
 *   deno task bundle    single-file bundles in dist/ (`dist/nexus.js` ...) that
 *                       carry their flags in their first lines and run offline
 *                       with Deno alone (npm code is inlined)
 *   deno task compile   standalone binaries in dist/ (`dist/nexus` ...); this
 *                       downloads Deno's runtime once, so it runs on release
 *                       machines, not on the build machines
 *
 * The flags are `permissionFlags()` for the production defaults: SPIRE's
 * usual sockets, upstream's ports and `~/.spike`. A deployment that configures
 * other places runs a bundle as `deno run <its flags> dist/nexus.js`; each
 * program names the flag to add when something is outside its grant.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { DEFAULT_SOCKETS } from "../dev/agent/registration.ts";
import { ENTRY, permissionFlags, type Program, type Reach } from "./permissions.ts";

/** The Workload API sockets SPIRE deployments usually use. */
export const SPIRE_SOCKETS = [
  "/tmp/spire-agent/public/api.sock",
  "/run/spire/sockets/agent.sock",
  "/spiffe-workload-api/spire-agent.sock",
];

const KEEPER_PORTS = [8443, 8543, 8643];
const both = (port: number) => [`localhost:${port}`, `127.0.0.1:${port}`];

/**
 * What each program may touch by default in a release. `${HOME}` and `${PWD}`
 * are expanded by `env -S` in a bundle's shebang, and replaced at compile time.
 */
export const RELEASE_REACH: Record<Program, Reach> = {
  nexus: {
    sockets: SPIRE_SOCKETS,
    hosts: ["0.0.0.0:8553", ...KEEPER_PORTS.flatMap(both)],
    folders: ["${HOME}/.spike/data"],
  },
  keeper: { sockets: SPIRE_SOCKETS, hosts: KEEPER_PORTS.map((p) => `0.0.0.0:${p}`) },
  bootstrap: { sockets: SPIRE_SOCKETS, hosts: [...both(8553), ...KEEPER_PORTS.flatMap(both)] },
  spike: { sockets: SPIRE_SOCKETS, hosts: both(8553), folders: ["${HOME}/.spike", "${PWD}"] },
  agent: {
    sockets: DEFAULT_SOCKETS.map((s) => `\${PWD}/.spike/agent/sockets/${s}.sock`),
    folders: ["${PWD}/.spike"],
  },
};

/** The names of the built files. */
export const PROGRAMS: Program[] = ["nexus", "keeper", "bootstrap", "spike", "agent"];

/**
 * The first two lines of a bundle. Linux cuts a `#!` line at 256 bytes, far
 * shorter than the flags, so the file is both a shell script and a module:
 * `sh` runs line 2 (`//bin/true` is `/bin/true`), which execs `deno run` with
 * the flags on the file itself; to JavaScript, line 2 is a comment. `${HOME}`
 * and `${PWD}` are expanded by `sh`.
 */
export function shebang(program: Program): string {
  const flags = permissionFlags(program, RELEASE_REACH[program]).map((f) => `"${f}"`).join(" ");
  return `#!/bin/sh\n//bin/true; exec deno run ${flags} "$0" "$@"`;
}

async function deno(args: string[]): Promise<void> {
  const status = await new Deno.Command("deno", { args, stdout: "inherit", stderr: "inherit" })
    .spawn().status;
  if (!status.success) throw new Error(`deno ${args[0]} failed (exit ${status.code})`);
}

/** Builds `dist/<program>.js` bundles with their shebang; returns their paths. */
export async function bundle(out: string): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  const built: string[] = [];
  for (const program of PROGRAMS) {
    const file = join(out, `${program}.js`);
    await deno(["bundle", "--quiet", "--platform", "deno", "-o", file, ENTRY[program]]);
    const code = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, `${shebang(program)}\n${code.replace(/^#!.*\n/, "")}`);
    await Deno.chmod(file, 0o755);
    built.push(file);
  }
  return built;
}

/**
 * The `deno compile` arguments for every program; `${HOME}`/`${PWD}` become
 * `home`. A compiled binary takes no permission flags when it runs, and the
 * addresses of Nexus and Keepers are chosen at deployment, so the servers'
 * and clients' network grant is open; files, env and run stay narrow.
 */
export function compileCommands(out: string, home: string, target?: string): string[][] {
  return PROGRAMS.map((program) => [
    "compile",
    ...permissionFlags(program, RELEASE_REACH[program])
      .map((f) => f.replaceAll("${HOME}", home).replaceAll("${PWD}", home))
      .map((f) => program !== "agent" && f.startsWith("--allow-net=") ? "--allow-net" : f),
    ...(target ? ["--target", target] : []),
    "--output",
    join(out, program),
    ENTRY[program],
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
    for (const program of PROGRAMS) console.log(shebang(program));
  } else {
    console.error("usage: release.ts bundle|compile|flags [--out DIR] [--home DIR] [--target T]");
    Deno.exit(2);
  }
}
