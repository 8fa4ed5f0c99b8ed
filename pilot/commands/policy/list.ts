/**
 * `spike policy list`: every policy, or those with an exact pattern.
 *
 * @module
 */

import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { FORMAT_OPTION, note, parseFormat, printData } from "../../output.ts";
import { formatPolicyList } from "./format.ts";

/** `spike policy list`. */
export const list: Command = {
  name: "list",
  summary: "List policies, optionally only those with an exact pattern",
  usage: "[--spiffeid-pattern PATTERN | --path-pattern PATTERN] [-f human|json|yaml]",
  help: "  --spiffeid-pattern PATTERN  only policies whose SPIFFE ID pattern is exactly this\n" +
    "  --path-pattern PATTERN      only policies whose path pattern is exactly this\n" +
    "  -f, --format FORMAT         human (default), json or yaml\n\n" +
    "The filters compare pattern text; they do not evaluate it. Human: a name block per\n" +
    'policy, or "No policies found." on stderr. JSON/YAML: an array of {id, name} (id is\n' +
    "always empty), sorted by name.",
  options: {
    "path-pattern": { type: "string" },
    "spiffeid-pattern": { type: "string" },
    ...FORMAT_OPTION,
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const format = parseFormat(values.format);
    const spiffeidPattern = values["spiffeid-pattern"] as string | undefined;
    const pathPattern = values["path-pattern"] as string | undefined;
    if (spiffeidPattern !== undefined && pathPattern !== undefined) {
      throw usageError("--spiffeid-pattern and --path-pattern cannot be used together");
    }
    const filter: { spiffeidPattern?: string; pathPattern?: string } = {};
    if (spiffeidPattern) filter.spiffeidPattern = spiffeidPattern;
    if (pathPattern) filter.pathPattern = pathPattern;
    const found = await withNexus("pilot-superuser", (nexus) => nexus.listPolicies(filter));
    const policies = found
      .map((p) => ({ id: p.id ?? "", name: p.name }))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    if (format === "human" && policies.length === 0) {
      note("No policies found.");
      return Exit.ok;
    }
    printData(format, policies, () => formatPolicyList(policies));
    return Exit.ok;
  },
};
