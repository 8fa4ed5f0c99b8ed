/**
 * `spike policy delete`: asks first (on stderr, the answer from the terminal
 * or stdin) unless `--yes`.
 *
 * @module
 */

import type { Command } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { confirm } from "../../input.ts";
import { Exit } from "../../exit.ts";
import { note, writeOut } from "../../output.ts";
import { nameArgument } from "./flags.ts";

/** `spike policy delete`. */
export const del: Command = {
  name: "delete",
  summary: "Delete a policy",
  usage: "NAME | --name NAME [-y|--yes]",
  help: "  -y, --yes   do not ask for confirmation\n\n" +
    "Without --yes, asks on stderr and reads the answer from the terminal or stdin;\n" +
    "anything but y cancels (exit 1). A missing policy exits 3.",
  options: { name: { type: "string" }, yes: { type: "boolean", short: "y" } },
  async run({ values, positionals }) {
    const name = nameArgument(values, positionals);
    const notFound = { notFound: `policy '${name}' not found` };
    if (values.yes !== true) {
      await withNexus("pilot-superuser", (nexus) => nexus.getPolicy(name), notFound);
      if (!(await confirm(`Are you sure you want to delete policy '${name}'? (y/N): `))) {
        note("Operation canceled.");
        return Exit.failure;
      }
    }
    await withNexus("pilot-superuser", (nexus) => nexus.deletePolicy(name), notFound);
    writeOut("Policy deleted successfully.\n");
    return Exit.ok;
  },
};
