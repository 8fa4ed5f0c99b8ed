/**
 * `spike secret get`: every key of a version, or one value, raw.
 *
 * @module
 */

import { CliError, type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { FORMAT_OPTION, parseFormat, printData } from "../../output.ts";
import { checkPath, versionFlag } from "./args.ts";

/** `spike secret get`. */
export const get: Command = {
  name: "get",
  summary: "Print a secret, or one value of it",
  usage: "PATH [KEY] [-v VERSION] [-f human|json|yaml]",
  help: "With KEY, prints that value alone, raw (a newline is added only on a terminal),\n" +
    "for $(spike secret get PATH KEY) in scripts. Without KEY: every key, one `key: value`\n" +
    "per line, sorted. JSON: the object of keys and values (or the single value, a string).\n" +
    "-v, --version N   a given version (default: the current one)",
  options: { version: { type: "string", short: "v" }, ...FORMAT_OPTION },
  async run({ values, positionals }) {
    const format = parseFormat(values.format);
    const [rawPath, key, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
    const path = checkPath(rawPath);
    const version = versionFlag(values.version);
    const data = await withNexus(
      "pilot-superuser",
      (nexus) => nexus.getSecret(path, version),
      { notFound: `secret ${path}${version ? ` version ${version}` : ""} not found` },
    );
    if (key !== undefined) {
      if (!(key in data)) throw new CliError(`key ${key} not found in ${path}`, Exit.notFound);
      const value = data[key];
      printData(format, value, () => value + (Deno.stdout.isTerminal() ? "\n" : ""));
      return Exit.ok;
    }
    const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => a < b ? -1 : 1));
    printData(
      format,
      sorted,
      () => Object.entries(sorted).map(([k, v]) => `${k}: ${v}\n`).join(""),
    );
    return Exit.ok;
  },
};
