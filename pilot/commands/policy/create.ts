/**
 * `spike policy create`: a new policy from the four flags, refused when one
 * with the name exists.
 *
 * @module
 */

import { ApiResponseError } from "../../../lib/client/errors.ts";
import { CliError, type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { writeOut } from "../../output.ts";
import {
  checkPolicy,
  missingLines,
  POLICY_FLAGS_HELP,
  POLICY_OPTIONS,
  policyFromFlags,
} from "./flags.ts";

/** `spike policy create`. */
export const create: Command = {
  name: "create",
  summary: "Create a policy (refused if one with the name exists)",
  usage: "--name NAME --spiffeid-pattern REGEX --path-pattern REGEX --permissions LIST",
  help: POLICY_FLAGS_HELP + "\n\nAll four are required. To replace a policy, use apply.\n\n" +
    "Example: spike policy create --name orders-db \\\n" +
    "  --spiffeid-pattern '^spiffe://spike\\.ist/workload/orders$' \\\n" +
    "  --path-pattern '^secrets/orders/db$' --permissions read",
  options: POLICY_OPTIONS,
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const { policy, missing } = policyFromFlags(values);
    if (missing.length > 0) throw usageError(`all flags are required:\n${missingLines(missing)}`);
    const valid = checkPolicy(policy);
    await withNexus("pilot-superuser", async (nexus) => {
      try {
        await nexus.getPolicy(valid.name);
        throw new CliError(`Policy '${valid.name}' already exists.`, Exit.failure);
      } catch (e) {
        if (!(e instanceof ApiResponseError && e.code === "api_not_found")) throw e;
      }
      await nexus.putPolicy(valid);
    });
    writeOut("Policy created successfully.\n");
    return Exit.ok;
  },
};
