/**
 * What the secret commands share: the path argument, version flags, and
 * `KEY=VALUE` pairs whose values can come from stdin (`KEY=-`) or a file
 * (`KEY=@FILE`, relative to the folder the user is in), so secrets need not
 * appear on the command line or in shell history.
 *
 * @module
 */

import { ValidationError } from "../../../lib/api/errors.ts";
import { validateSecretPath, validateSecretValues } from "../../../lib/api/secrets.ts";
import { CliError, usageError } from "../../cli.ts";
import { describeValidation } from "../../errors.ts";
import { Exit } from "../../exit.ts";
import { readSecretLine, readStdin, readUserFile } from "../../input.ts";

const MAX_VALUE_BYTES = 1024 * 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The secret path argument, checked with the server's rules. */
export function checkPath(path: string | undefined): string {
  if (path === undefined) throw usageError("the secret path is missing");
  try {
    validateSecretPath(path);
  } catch (e) {
    if (e instanceof ValidationError) throw usageError(describeValidation(e, path));
    throw e;
  }
  return path;
}

/** `-v N`: a whole number, 0 (the current version) when absent. */
export function versionFlag(value: unknown): number {
  if (value === undefined) return 0;
  const text = String(value);
  if (!/^\d+$/.test(text)) throw usageError(`invalid version number: ${text}`);
  return Number(text);
}

/** Parses `-v 1,2,3`: whole numbers, none negative. */
export function versionList(value: unknown): number[] {
  if (value === undefined || value === "") return [];
  return String(value).split(",").map((part) => {
    const text = part.trim();
    if (/^-\d+$/.test(text)) throw usageError(`negative version number: ${text}`);
    if (!/^\d+$/.test(text)) throw usageError(`invalid version number: ${text}`);
    return Number(text);
  });
}

async function valueFrom(key: string, spec: string, stdinUsed: { by?: string }): Promise<string> {
  let bytes: Uint8Array;
  if (spec === "-") {
    if (stdinUsed.by) throw usageError(`only one value can come from stdin (${stdinUsed.by} does)`);
    stdinUsed.by = key;
    if (Deno.stdin.isTerminal()) return await readSecretLine(`value for ${key}: `);
    bytes = await readStdin(MAX_VALUE_BYTES);
    // `echo value | spike secret put p k=-` should store "value", not "value\n".
    if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
  } else if (spec.startsWith("@")) {
    bytes = await readUserFile(spec.slice(1), {
      setting: `the value of ${key}`,
      max: MAX_VALUE_BYTES,
      tooLarge: (shown) => usageError(`${shown} is larger than ${MAX_VALUE_BYTES} bytes`),
      missing: (shown) => `cannot read ${shown} for ${key}: it does not exist`,
    });
  } else {
    return spec;
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw usageError(`the value of ${key} is not UTF-8 text; encode it (e.g. base64)`);
  } finally {
    bytes.fill(0);
  }
}

/** Help lines for the forms a VALUE may take. */
export const VALUE_HELP = "VALUE may be:\n" +
  "  text      the value itself (it then shows in the process list and shell history)\n" +
  "  -         read from stdin (a hidden prompt on a terminal; one trailing newline dropped)\n" +
  "  @FILE     read from FILE, exactly (a relative FILE is in the folder you are in)\n";

/** Reads `KEY=VALUE` pairs (at least one), resolving `-` and `@FILE` values. */
export async function readPairs(pairs: string[]): Promise<Record<string, string>> {
  if (pairs.length === 0) throw usageError("give at least one KEY=VALUE");
  const values: Record<string, string> = {};
  const stdinUsed: { by?: string } = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw usageError(`invalid key-value pair: ${pair.split("=")[0]}`);
    const key = pair.slice(0, eq);
    if (key in values) throw usageError(`key ${key} is given twice`);
    values[key] = await valueFrom(key, pair.slice(eq + 1), stdinUsed);
  }
  return values;
}

/** Checks keys and size with the server's rules, in Pilot's words. */
export function checkValues(values: Record<string, string>): void {
  try {
    validateSecretValues(values).fill(0);
  } catch (e) {
    if (e instanceof ValidationError) throw new CliError(describeValidation(e), Exit.usage);
    throw e;
  }
}
