/**
 * `spike secret destroy` (upstream #257 asks for it as `purge`, which is
 * accepted too): versions, or the whole path, removed from storage for good.
 * Asks first, as `policy delete` does, unless `--yes`.
 *
 * @module
 */

import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { confirm } from "../../input.ts";
import { Exit } from "../../exit.ts";
import { note, writeOut } from "../../output.ts";
import { checkPath, versionList } from "./args.ts";

/** `spike secret destroy`. */
export const destroy: Command = {
  name: "destroy",
  summary: "Remove versions of a secret, or all of it, from storage for good",
  usage: "PATH [-v VERSIONS] [-y|--yes]",
  help: "  -v, --versions 1,2,3   versions to destroy (0: the current one);\n" +
    "                         without -v, the whole path: every version and its metadata\n" +
    "  -y, --yes              do not ask for confirmation\n\n" +
    "Unlike delete, this cannot be undone: the records leave the store and the database\n" +
    "file (see the README for what each backend does with the bytes). A version that is\n" +
    "not stored exits 3 and nothing is destroyed. Needs `super` on the path (or the\n" +
    "superuser); `write` is not enough. Without --yes, asks on stderr and reads the answer\n" +
    "from the terminal or stdin; anything but y cancels (exit 1). Prints OK.",
  options: { versions: { type: "string", short: "v" }, yes: { type: "boolean", short: "y" } },
  async run({ values, positionals }) {
    const [rawPath, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
    const path = checkPath(rawPath);
    const versions = versionList(values.versions);
    if (values.yes !== true) {
      const what = versions.length === 0
        ? `secret '${path}' (every version and its metadata)`
        : `version${versions.length > 1 ? "s" : ""} ${versions.join(", ")} of secret '${path}'`;
      if (
        !(await confirm(`Are you sure you want to destroy ${what}? This cannot be undone. (y/N): `))
      ) {
        note("Operation canceled.");
        return Exit.failure;
      }
    }
    await withNexus("pilot-superuser", (nexus) => nexus.destroySecret(path, versions), {
      notFound: versions.length === 0
        ? `secret ${path} not found`
        : `secret ${path} has no version ${versions.join(", ")} to destroy`,
    });
    writeOut("OK\n");
    return Exit.ok;
  },
};

/** `spike secret purge`: the same command under upstream #257's name. */
export const purge: Command = { ...destroy, name: "purge", summary: "Same as destroy" };
