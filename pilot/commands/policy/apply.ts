/**
 * `spike policy apply`: create or replace a policy, from a YAML/JSON file
 * (what `policy get -f yaml|json` prints is taken back) or from the flags.
 *
 * @module
 */

import type { PolicyInput } from "../../../lib/client/nexus.ts";
import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { writeOut } from "../../output.ts";
import { policyFromFile } from "./file.ts";
import {
  checkPolicy,
  missingLines,
  POLICY_FLAGS,
  POLICY_FLAGS_HELP,
  POLICY_OPTIONS,
  policyFromFlags,
} from "./flags.ts";

/** `spike policy apply`. */
export const apply: Command = {
  name: "apply",
  summary: "Create or replace a policy, from a YAML/JSON file or from flags",
  usage: "--file FILE | --name NAME --spiffeid-pattern REGEX --path-pattern REGEX " +
    "--permissions LIST",
  help:
    "  --file FILE                 a YAML (or JSON) policy, e.g. what policy get -f yaml prints:\n" +
    "                                name: orders-db\n" +
    "                                spiffeidPattern: ^spiffe://spike\\.ist/workload/orders$\n" +
    "                                pathPattern: ^secrets/orders/db$\n" +
    '                                permissions: [read]   (a list, or "read,write")\n' +
    "                              (spiffiedPattern, as policy get spells it, is taken too;\n" +
    "                              a relative FILE is read from the folder you are in)\n" +
    "or all four flags:\n" + POLICY_FLAGS_HELP +
    "\n\nA policy with the same name is replaced (its creation time is kept).",
  options: { ...POLICY_OPTIONS, file: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const file = values.file as string | undefined;
    let policy: PolicyInput;
    let valid: PolicyInput;
    if (file !== undefined) {
      const flags = POLICY_FLAGS.filter((f) => values[f] !== undefined);
      if (flags.length > 0) {
        throw usageError(`give --file or the policy flags, not both (--${flags[0]} was given)`);
      }
      policy = await policyFromFile(file);
      valid = checkPolicy(policy, { file });
    } else {
      const fromFlags = policyFromFlags(values);
      if (fromFlags.missing.length > 0) {
        throw usageError(
          `give --file, or all four policy flags:\n${missingLines(fromFlags.missing)}`,
        );
      }
      valid = checkPolicy(fromFlags.policy);
    }
    await withNexus("pilot-superuser", (nexus) => nexus.putPolicy(valid));
    writeOut(`Policy '${valid.name}' applied successfully\n`);
    return Exit.ok;
  },
};
