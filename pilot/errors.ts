/**
 * How Pilot words a {@link ValidationError} for a person: from its field, rule and limit, so
 * commands neither parse the validator's message nor restate its limits.
 *
 * @module
 */

import type { ValidationError } from "../lib/api/errors.ts";

/** What each request field is called on the command line. */
const FIELD_WORDS: Record<string, string> = {
  path: "secret path",
  values: "secret",
  name: "policy name",
  spiffeidPattern: "SPIFFE ID pattern",
  pathPattern: "path pattern",
  permissions: "permissions",
  plaintext: "plaintext",
  ciphertext: "ciphertext",
};

function choices(limit: ValidationError["limit"]): string {
  return Array.isArray(limit) ? limit.join(", ") : String(limit);
}

/**
 * One sentence for a person. `given` is what they typed for the field (a path or a name,
 * never a secret value), quoted back when present; `as` is how they gave the field (a flag
 * such as `--path-pattern`, or a file's key), when that says more than the field's name.
 */
export function describeValidation(e: ValidationError, given?: string, as?: string): string {
  const what = as ?? FIELD_WORDS[e.field] ?? `"${e.field}"`;
  const quoted = given === undefined ? "" : `: ${given}`;
  switch (e.rule) {
    case "charset":
      // Key names share the "values" field with the size rule; the validator names them.
      if (e.field === "values") return `${e.detail} (${e.limit})`;
      return `invalid ${what}${quoted} (${e.limit})`;
    case "segments":
      return `invalid ${what}${quoted} (${e.limit})`;
    case "size":
      return `the ${what} is too large (at most ${e.limit} bytes)`;
    case "syntax":
      return `${what} is not a valid ${e.limit} regular expression${
        e.reason ? `: ${e.reason}` : ""
      }`;
    case "one-of":
      return `invalid ${what}${quoted}: each must be one of ${choices(e.limit)}`;
    default:
      return e.detail;
  }
}
