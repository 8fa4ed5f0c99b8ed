/**
 * `spike policy get`: one policy, in upstream's layout or as the API's object.
 *
 * @module
 */

import type { Command } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { FORMAT_OPTION, parseFormat, printData } from "../../output.ts";
import { nameArgument } from "./flags.ts";
import { formatPolicy, policyObject } from "./format.ts";

/** `spike policy get`. */
export const get: Command = {
  name: "get",
  summary: "Print a policy",
  usage: "NAME | --name NAME [-f human|json|yaml]",
  help: "  -f, --format FORMAT   human (default), json or yaml\n\n" +
    "JSON/YAML: the API's policy object {id, name, spiffiedPattern (upstream's spelling),\n" +
    "pathPattern, permissions, createdAt, updatedAt}; policy apply --file takes it back.\n" +
    "A missing policy exits 3.",
  options: { name: { type: "string" }, ...FORMAT_OPTION },
  async run({ values, positionals }) {
    const format = parseFormat(values.format);
    const name = nameArgument(values, positionals);
    const policy = policyObject(
      await withNexus(
        "pilot-superuser",
        (nexus) => nexus.getPolicy(name),
        { notFound: `policy '${name}' not found` },
      ),
    );
    printData(format, policy, () => formatPolicy(policy));
    return Exit.ok;
  },
};
