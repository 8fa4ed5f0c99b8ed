/**
 * Secret keys as environment variable names, for `spike run` and
 * `spike secret export --format env`: upper-cased, every character outside
 * `A-Z0-9_` made `_`, and a leading digit prefixed with `_`. Two keys that
 * end up with the same name are an error that names both (never a value).
 *
 * @module
 */

import { CliError } from "./cli.ts";
import { Exit } from "./exit.ts";

/** A key's variable name. */
export function envName(key: string): string {
  const name = key.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** Values from several secrets as variables; conflicting names are refused. */
export function envNames(
  secrets: { source: string; values: Record<string, string> }[],
): { name: string; value: string }[] {
  const seen = new Map<string, string>();
  const out: { name: string; value: string }[] = [];
  const conflicts: string[] = [];
  for (const { source, values } of secrets) {
    for (const key of Object.keys(values).sort()) {
      const name = envName(key);
      const where = `${source}:${key}`;
      const before = seen.get(name);
      if (before) {
        conflicts.push(`${name} (from ${before} and ${where})`);
        continue;
      }
      seen.set(name, where);
      out.push({ name, value: values[key] });
    }
  }
  if (conflicts.length > 0) {
    throw new CliError(
      `these keys become the same variable: ${conflicts.join(", ")}; rename a key`,
      Exit.failure,
    );
  }
  return out;
}

/** Single-quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
