/**
 * The start-up cache of `deno task <program>`: each program bundled into
 * one file, `.spike/cache/<program>-<hash>.js`, which starts with about a
 * third less CPU than the checkout's modules (no TypeScript files to
 * resolve and load one by one, no npm resolution).
 *
 * `<hash>` is a SHA-256 over every input of the bundle: the content and path
 * of every local module of the program's graph (as `deno info` lists it),
 * `deno.json`, `deno.lock`, this recipe and the Deno version. Beside the
 * bundle, `<program>.json` lists the graph's files and the hash. A start
 * reads that list, hashes those files as they are now, and uses the bundle
 * only when the hash is the one it was built from: an edited, added or
 * removed module changes a listed file (an import is a line of the importing
 * file), so a bundle never runs once its sources differ.
 *
 * Writes go to a temporary file renamed into place (the bundle first, then
 * the list), so concurrent starts never see a half-written file; each may
 * build, and the last rename wins with the same content.
 *
 * It imports nothing heavy: the launcher loads it before every start.
 *
 * @module
 */

import { join } from "../lib/std/path.ts";
import { type Program, PROGRAMS } from "../lib/config/programs.ts";

/** The cache folder, relative to the checkout. */
export const CACHE_DIR = ".spike/cache";

/** Changes when the bundle's recipe changes (with this file's content, which is hashed too). */
const RECIPE = "spike start-up cache 1";

/** Files every bundle depends on beside its modules, relative to the checkout. */
const ALWAYS = ["deno.json", "deno.lock", "launch/cache.ts"];

/** Files being written (renamed into place when whole; left behind only by a killed build). */
const TEMP_SUFFIX = ".tmp.js";

/** What `<program>.json` holds. */
interface Manifest {
  hash: string;
  /** The graph's local modules, relative to the checkout. */
  files: string[];
}

/** The bundle of `program` with inputs of `hash`. */
export function bundlePath(root: string, program: Program, hash: string): string {
  return join(root, CACHE_DIR, `${program}-${hash}.js`);
}

function manifestPath(root: string, program: Program): string {
  return join(root, CACHE_DIR, `${program}.json`);
}

/** SHA-256 (hex) of the inputs: `files` (relative to `root`) as they are now. Throws if one is gone. */
export async function inputsHash(root: string, program: Program, files: string[]): Promise<string> {
  const names = [...new Set([...ALWAYS, ...files])].sort();
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`${RECIPE}\n${Deno.version.deno}\n${program}\n`)];
  for (const name of names) {
    const content = Deno.readFileSync(join(root, name));
    // Path and length before the content: no two different file sets hash alike.
    parts.push(encoder.encode(`${name}\0${content.length}\0`), content);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function readManifest(root: string, program: Program): Manifest | undefined {
  try {
    const doc = JSON.parse(Deno.readTextFileSync(manifestPath(root, program)));
    if (
      typeof doc?.hash === "string" && /^[0-9a-f]{64}$/.test(doc.hash) &&
      Array.isArray(doc.files) && doc.files.every((f: unknown) => typeof f === "string")
    ) return doc;
  } catch {
    // none yet, or not readable: no bundle
  }
  return undefined;
}

/**
 * The bundle of `program` built from exactly the current sources, or
 * `undefined` (none yet, or its sources changed since).
 */
export async function currentBundle(root: string, program: Program): Promise<string | undefined> {
  const manifest = readManifest(root, program);
  if (!manifest) return undefined;
  let hash: string;
  try {
    hash = await inputsHash(root, program, manifest.files);
  } catch {
    return undefined; // a listed module is gone: the graph changed
  }
  if (hash !== manifest.hash) return undefined;
  const file = bundlePath(root, program, hash);
  try {
    return Deno.statSync(file).isFile ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `deno` with `args` (no stdin: the program's input is not ours to read); its stdout. */
async function deno(deno: string, root: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(deno, {
    args,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    throw new Error(`deno ${args[0]} failed (exit ${out.code})${why ? `: ${why}` : ""}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The local modules of `program`'s graph, relative to `root`. */
async function graphFiles(denoPath: string, root: string, program: Program): Promise<string[]> {
  const entry = join(root, PROGRAMS[program].entry);
  const info = JSON.parse(
    await deno(denoPath, root, ["info", "--json", "--config", join(root, "deno.json"), entry]),
  ) as { modules: { specifier: string; error?: string }[] };
  const prefix = new URL(`file://${root}/`).href;
  const files: string[] = [];
  for (const m of info.modules) {
    if (m.error) throw new Error(`${m.specifier}: ${m.error}`);
    if (!m.specifier.startsWith("file:")) continue; // npm: and node: are pinned by deno.lock
    if (!m.specifier.startsWith(prefix)) throw new Error(`${m.specifier} is outside the checkout`);
    files.push(decodeURIComponent(m.specifier.slice(prefix.length)));
  }
  return files.sort();
}

/** Removes `file` if it exists and is older than `ms`. */
function removeIfOlder(file: string, ms: number): void {
  try {
    const mtime = Deno.statSync(file).mtime?.getTime() ?? 0;
    if (Date.now() - mtime > ms) Deno.removeSync(file);
  } catch {
    // gone already, or not ours to remove
  }
}

/**
 * Builds the bundle of `program` from the current sources (or finds it
 * built by a concurrent start) and returns its path. Throws when it cannot:
 * a read-only checkout, a failed `deno bundle`, or sources that changed
 * while it was built.
 */
export async function buildBundle(
  root: string,
  program: Program,
  denoPath = Deno.execPath(),
): Promise<string> {
  const dir = join(root, CACHE_DIR);
  Deno.mkdirSync(dir, { recursive: true });
  // Made first: a read-only checkout fails here, before any bundling work. (`.js`: deno bundle
  // adds the shim for npm code's `require` only to a file it sees as JavaScript.)
  const temp = Deno.makeTempFileSync({ dir, prefix: `.${program}-`, suffix: TEMP_SUFFIX });
  try {
    const files = await graphFiles(denoPath, root, program);
    const hash = await inputsHash(root, program, files);
    const file = bundlePath(root, program, hash);
    let exists = false;
    try {
      exists = Deno.statSync(file).isFile;
    } catch {
      // not built yet
    }
    if (!exists) {
      await deno(denoPath, root, [
        "bundle",
        "--quiet",
        "--config",
        join(root, "deno.json"),
        "--platform",
        "deno",
        "-o",
        temp,
        join(root, PROGRAMS[program].entry),
      ]);
    }
    // The same graph with the same content after bundling as before: the bundle is of these
    // sources (an edit while it was built would leave a bundle no hash describes).
    const after = await graphFiles(denoPath, root, program);
    if (after.join("\n") !== files.join("\n") || await inputsHash(root, program, after) !== hash) {
      throw new Error("the sources changed while they were bundled");
    }
    if (!exists) Deno.renameSync(temp, file);
    const manifest: Manifest = { hash, files };
    const list = Deno.makeTempFileSync({ dir, prefix: `.${program}-`, suffix: TEMP_SUFFIX });
    Deno.writeTextFileSync(list, JSON.stringify(manifest) + "\n");
    Deno.renameSync(list, manifestPath(root, program));
    // Older bundles of this program: a start that chose one a moment ago may still be opening it.
    for (const entry of Deno.readDirSync(dir)) {
      const old = entry.name.startsWith(`${program}-`) && entry.name.endsWith(".js");
      if (old && join(dir, entry.name) !== file) removeIfOlder(join(dir, entry.name), 60_000);
      if (entry.name.endsWith(TEMP_SUFFIX)) removeIfOlder(join(dir, entry.name), 600_000);
    }
    return file;
  } finally {
    try {
      Deno.removeSync(temp);
    } catch {
      // renamed into place
    }
  }
}
