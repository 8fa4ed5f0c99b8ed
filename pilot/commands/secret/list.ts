/**
 * `spike secret list [PREFIX] [--recursive]`. Nexus answers every path (as
 * upstream); the folder view is made here. Without PREFIX: every path, as
 * upstream prints it. With PREFIX (a folder: `demo` and `demo/` are the same):
 * what lies directly in it, each sub-folder once with a trailing `/`, as
 * `vault kv list` shows; `--recursive` lists every path below it instead.
 *
 * @module
 */

import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { FORMAT_OPTION, note, parseFormat, printData } from "../../output.ts";
import { checkPath } from "./args.ts";

/** The entries of `paths` under the folder `prefix` (`undefined`: every path). */
export function listFolder(
  paths: string[],
  prefix: string | undefined,
  recursive: boolean,
): string[] {
  if (prefix === undefined) return [...paths].sort();
  const folder = prefix.endsWith("/") ? prefix : `${prefix}/`;
  const out = new Set<string>();
  for (const path of paths) {
    if (!path.startsWith(folder)) continue;
    if (recursive) {
      out.add(path);
      continue;
    }
    const rest = path.slice(folder.length);
    const slash = rest.indexOf("/");
    out.add(slash === -1 ? path : folder + rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

/** `spike secret list`. */
export const list: Command = {
  name: "list",
  summary: "List secret paths, all or those in a folder",
  usage: "[PREFIX] [-r|--recursive] [-f human|json|yaml]",
  help: "Without PREFIX: every secret path (as upstream).\n" +
    "With PREFIX, a folder (demo and demo/ are the same): the secrets directly in it and\n" +
    "each sub-folder once, ending in / (as vault kv list);\n" +
    "  -r, --recursive   every path below PREFIX instead, at any depth\n" +
    "Human: `- PATH` per line. JSON/YAML: an array of paths, sorted.",
  options: { recursive: { type: "boolean", short: "r" }, ...FORMAT_OPTION },
  async run({ values, positionals }) {
    const format = parseFormat(values.format);
    const [raw, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
    const prefix = raw === undefined ? undefined : checkPath(raw.replace(/\/$/, ""));
    const all = await withNexus("pilot-superuser", (nexus) => nexus.listSecrets());
    const paths = listFolder(all, prefix, values.recursive === true);
    if (format === "human" && paths.length === 0) {
      note(prefix === undefined ? "No secrets found." : `No secrets found in ${prefix}/.`);
      return Exit.ok;
    }
    printData(format, paths, () => paths.map((p) => `- ${p}\n`).join(""));
    return Exit.ok;
  },
};
