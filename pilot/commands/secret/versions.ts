/**
 * `spike secret delete|undelete`: mark versions deleted, or bring them back.
 *
 * @module
 */

import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { writeOut } from "../../output.ts";
import { checkPath, versionList } from "./args.ts";

/** `spike secret delete` or `undelete`. */
export function versionsCommand(name: "delete" | "undelete"): Command {
  const verb = name === "delete" ? "Delete" : "Undelete";
  return {
    name,
    summary: `${verb} versions of a secret`,
    usage: "PATH [-v VERSIONS]",
    help: `-v, --versions 1,2,3   versions to ${name} (default: the current one` +
      (name === "undelete" ? ", or the latest when all are deleted)" : ")") + "\nPrints OK.",
    options: { versions: { type: "string", short: "v" } },
    async run({ values, positionals }) {
      const [rawPath, ...extra] = positionals;
      if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
      const path = checkPath(rawPath);
      const versions = versionList(values.versions);
      await withNexus(
        "pilot-superuser",
        (nexus) =>
          name === "delete"
            ? nexus.deleteSecret(path, versions)
            : nexus.undeleteSecret(path, versions),
        {
          notFound: name === "delete"
            ? `secret ${path} not found`
            : `nothing to undelete in ${path}`,
        },
      );
      writeOut("OK\n");
      return Exit.ok;
    },
  };
}
