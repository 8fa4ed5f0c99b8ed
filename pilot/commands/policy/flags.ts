/**
 * What the policy commands share: the four policy flags, their help, the
 * policy name argument, and the check of a policy with the server's own rules
 * before it is sent, so a bad permission or pattern is one clear sentence
 * naming the flag (or file key) it came from instead of a bare 400.
 *
 * @module
 */

import { ValidationError } from "../../../lib/api/errors.ts";
import { describeValidation } from "../../errors.ts";
import { PERMISSIONS, validatePolicyId, validatePolicyPut } from "../../../lib/api/policies.ts";
import type { PolicyInput } from "../../../lib/client/nexus.ts";
import { usageError } from "../../cli.ts";

/** The four policy flags of `create` and `apply`, in upstream's order of mention. */
export const POLICY_FLAGS = ["name", "path-pattern", "spiffeid-pattern", "permissions"] as const;

/** The `parseArgs` options of the four policy flags. */
export const POLICY_OPTIONS = {
  name: { type: "string" as const },
  "path-pattern": { type: "string" as const },
  "spiffeid-pattern": { type: "string" as const },
  permissions: { type: "string" as const },
};

/** Help lines of the four policy flags. */
export const POLICY_FLAGS_HELP =
  "  --name NAME                 policy name (a-z A-Z 0-9 - _ and space)\n" +
  "  --spiffeid-pattern REGEX    RE2 pattern for the SPIFFE IDs it applies to\n" +
  "  --path-pattern REGEX        RE2 pattern for the secret paths it covers\n" +
  `  --permissions LIST          comma-separated: ${PERMISSIONS.join(", ")}`;

/** How the fields of a policy were given, for messages: flags or a file's keys. */
export type Source = "flags" | { file: string };

/** The API's field names that validation messages use, and the flag each comes from. */
const FLAG_OF: Record<string, string> = {
  spiffeidPattern: "--spiffeid-pattern",
  pathPattern: "--path-pattern",
};

/** Splits `read, write` into `["read", "write"]`, dropping empty entries. */
export function splitPermissions(text: string): string[] {
  return text.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * A validation error in the user's terms: a pattern field is named as they gave it (its flag,
 * or its key in their file), so the message points at their input.
 */
function worded(e: ValidationError, source: Source): string {
  const as = !(e.field in FLAG_OF)
    ? undefined
    : source === "flags"
    ? FLAG_OF[e.field]
    : `${e.field} in ${source.file}`;
  return describeValidation(e, undefined, as);
}

/**
 * Checks a policy with the server's rules: permissions first, with upstream's
 * message, then name, patterns and the reserved-path guard.
 */
export function checkPolicy(policy: PolicyInput, source: Source = "flags"): PolicyInput {
  for (const p of policy.permissions) {
    if (!(PERMISSIONS as readonly string[]).includes(p)) {
      throw usageError(
        `invalid permission: '${p}'. valid permissions: '${PERMISSIONS.join(", ")}'`,
      );
    }
  }
  try {
    const valid = validatePolicyPut(policy);
    return { ...policy, permissions: valid.permissions };
  } catch (e) {
    if (e instanceof ValidationError) throw usageError(worded(e, source));
    throw e;
  }
}

/** The policy given by the four flags; `missing` lists any absent or empty ones. */
export function policyFromFlags(values: Record<string, unknown>): {
  policy: PolicyInput;
  missing: string[];
} {
  const missing: string[] = POLICY_FLAGS.filter((f) => {
    const v = values[f];
    return typeof v !== "string" || v.trim() === "";
  });
  const text = (f: typeof POLICY_FLAGS[number]) => String(values[f] ?? "");
  const policy: PolicyInput = {
    name: text("name"),
    spiffeidPattern: text("spiffeid-pattern"),
    pathPattern: text("path-pattern"),
    permissions: splitPermissions(text("permissions")),
  };
  if (!missing.includes("permissions") && policy.permissions.length === 0) {
    missing.push("permissions");
  }
  return { policy, missing };
}

/** `  --flag is missing` lines. */
export function missingLines(missing: string[]): string {
  return missing.map((f) => `  --${f} is missing`).join("\n");
}

/** The policy name, from the argument or `--name` (not both, unless equal). */
export function nameArgument(values: Record<string, unknown>, positionals: string[]): string {
  if (positionals.length > 1) throw usageError(`unexpected argument: ${positionals[1]}`);
  const flag = values.name as string | undefined;
  const arg = positionals[0];
  if (flag !== undefined && arg !== undefined && flag !== arg) {
    throw usageError(`two names given ('${arg}' and --name '${flag}'); give one`);
  }
  const name = arg ?? flag;
  if (name === undefined || name === "") {
    throw usageError("the policy name is missing: give it as an argument or with --name");
  }
  try {
    return validatePolicyId({ id: name });
  } catch (e) {
    if (e instanceof ValidationError) throw usageError(worded(e, "flags"));
    throw e;
  }
}
