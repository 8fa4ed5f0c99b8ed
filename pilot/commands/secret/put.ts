/**
 * `spike secret put`: a new version holding exactly the given keys.
 *
 * @module
 */

import type { Command } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { writeOut } from "../../output.ts";
import { checkPath, checkValues, readPairs, VALUE_HELP } from "./args.ts";

/** `spike secret put`. */
export const put: Command = {
  name: "put",
  summary: "Store a new version of a secret",
  usage: "PATH KEY=VALUE [KEY=VALUE ...]",
  help: VALUE_HELP +
    "The new version holds exactly these keys (to change some keys only, use patch).\n" +
    "Prints OK.\n\n" +
    "Example: spike secret put tenants/demo/db user=admin pass=-",
  async run({ positionals }) {
    const [rawPath, ...pairs] = positionals;
    const path = checkPath(rawPath);
    const values = await readPairs(pairs);
    checkValues(values);
    await withNexus("pilot-superuser", (nexus) => nexus.putSecret(path, values));
    writeOut("OK\n");
    return Exit.ok;
  },
};
