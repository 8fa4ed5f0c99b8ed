/**
 * Input and files: secrets read without putting them on the command line (a
 * hidden prompt on a terminal, or standard input otherwise), and files the
 * user names, resolved against the folder the user ran `spike` in.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { requireAccess } from "../lib/config/permissions.ts";
import { CliError, configError, usageError } from "./cli.ts";
import { Exit } from "./exit.ts";

const MAX_LINE = 4096;

/**
 * Reads a stream to its end; more than `max` bytes throws `tooLarge()` (what
 * was read so far is zeroed first: it may be a secret).
 */
export async function readStream(
  stream: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > max) {
      for (const c of chunks) c.fill(0);
      chunk.fill(0);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
    c.fill(0);
  }
  return out;
}

/** Reads stdin to the end, at most `max` bytes. */
export function readStdin(max: number): Promise<Uint8Array> {
  return readStream(
    Deno.stdin.readable,
    max,
    () => new CliError(`standard input is larger than ${max} bytes`, Exit.usage),
  );
}

/** One line: typed at a hidden prompt on a terminal, else read from stdin. */
export async function readSecretLine(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    return new TextDecoder().decode(await readStdin(MAX_LINE)).trim();
  }
  const encoder = new TextEncoder();
  // Echo off before the prompt shows: a key typed as soon as it appears must not be echoed.
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    Deno.stderr.writeSync(encoder.encode(prompt));
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const c = buf[0];
      if (c === 0x0d || c === 0x0a) break;
      if (c === 0x03) throw new CliError("cancelled", Exit.failure); // Ctrl-C
      if (c === 0x7f || c === 0x08) {
        bytes.pop();
        continue;
      }
      if (bytes.length < MAX_LINE) bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  const line = new TextDecoder().decode(new Uint8Array(bytes)).trim();
  bytes.fill(0);
  return line;
}

/**
 * The folder the user ran `spike` in. `deno task` runs programs in the
 * checkout and says where it was started in `INIT_CWD`; run directly, that is
 * the process's own folder. When neither can be known (`INIT_CWD` not
 * granted), there is no folder: a relative name is refused rather than read
 * from the wrong place.
 */
export function userFolder(): string | undefined {
  let granted = false;
  try {
    granted = Deno.permissions.querySync({ name: "env", variable: "INIT_CWD" }).state === "granted";
  } catch { /* not granted */ }
  if (!granted) return undefined;
  const init = Deno.env.get("INIT_CWD");
  if (init !== undefined) return isAbsolute(init) ? init : undefined;
  try {
    return Deno.cwd();
  } catch {
    return undefined; // the folder itself is not readable under our grant
  }
}

/**
 * `name` as the user meant it: absolute names as they are, relative ones
 * against {@link userFolder}. Throws a configuration error when that folder
 * cannot be known, naming `setting` (e.g. `--file`).
 */
export function userPath(name: string, setting: string): string {
  if (isAbsolute(name)) return name;
  const folder = userFolder();
  if (folder === undefined) {
    throw configError(
      `${setting} ${name} is relative, and spike cannot tell which folder it was started in ` +
        "(INIT_CWD is not granted, or that folder is not readable); give an absolute path, or " +
        "run spike with --allow-env=INIT_CWD",
    );
  }
  return join(folder, name);
}

/** How {@link readUserFile} reads and words its failures. */
export interface UserFileOptions {
  /** How the file was given, e.g. `--file` or `the value of pass`. */
  setting: string;
  /** Largest file read. */
  max: number;
  /** The error for a larger file. */
  tooLarge: (file: string) => CliError;
  /** The sentence for a missing file (default: `file FILE does not exist`). */
  missing?: (file: string) => string;
}

/**
 * Reads a file the user named on the command line (resolved with
 * {@link userPath}), whole, at most `max` bytes. Failures that are not the
 * user's typing (not granted, missing, a folder, unreadable) exit 7.
 */
export async function readUserFile(file: string, options: UserFileOptions): Promise<Uint8Array> {
  if (file === "") throw usageError(`${options.setting} needs a file name`);
  const path = userPath(file, options.setting);
  const shown = path === file ? file : `${file} (${path})`;
  try {
    requireAccess(options.setting, { kind: "read", path });
  } catch (e) {
    throw configError((e as Error).message);
  }
  let handle: Deno.FsFile;
  try {
    if ((await Deno.stat(path)).isDirectory) throw configError(`${shown} is a folder, not a file`);
    handle = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw configError(options.missing?.(shown) ?? `file ${shown} does not exist`);
    }
    throw configError(`cannot read ${shown}: ${(e as Error).message}`);
  }
  // The stream closes the file at its end, or when readStream stops reading.
  return await readStream(handle.readable, options.max, () => options.tooLarge(shown));
}

/**
 * Writes `data` to a file the user named (resolved with {@link userPath}),
 * created or replaced with mode 0600: an existing file is narrowed to 0600
 * before anything is written, so a secret never sits in a readable file.
 */
export async function writeUserFile(
  file: string,
  setting: string,
  data: Uint8Array,
): Promise<void> {
  const path = userPath(file, setting);
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { write: true, create: true, mode: 0o600 });
  } catch (e) {
    throw configError(`cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    // An existing file keeps its mode on open: narrow it before anything is written.
    await Deno.chmod(path, 0o600);
    await handle.truncate(0);
    let written = 0;
    while (written < data.length) written += await handle.write(data.subarray(written));
  } catch (e) {
    throw configError(`cannot write ${file}: ${(e as Error).message}`);
  } finally {
    handle.close();
  }
}

/** Checks that a file named for output may be written, before any work is done. */
export function checkUserOutput(file: string, setting: string): void {
  if (file === "") throw usageError(`${setting} needs a file name`);
  try {
    requireAccess(setting, { kind: "write", path: userPath(file, setting) });
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw configError((e as Error).message);
  }
}

/**
 * Asks `question` on stderr and reads one line from the terminal or stdin
 * (never past it); true only for y or Y. A piped answer is not echoed, so a
 * newline closes the question line.
 */
export async function confirm(question: string): Promise<boolean> {
  Deno.stderr.writeSync(new TextEncoder().encode(question));
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null || buf[0] === 0x0a) break;
    if (n > 0 && bytes.length < 1024) bytes.push(buf[0]);
  }
  if (!Deno.stdin.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  const answer = new TextDecoder().decode(new Uint8Array(bytes)).trim();
  return answer === "y" || answer === "Y";
}
