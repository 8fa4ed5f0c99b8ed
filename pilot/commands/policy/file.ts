/**
 * A policy from a YAML or JSON file (`spike policy apply --file`). It takes
 * back what `spike policy get -f yaml|json` prints: the SPIFFE ID pattern may
 * be spelled `spiffeidPattern` (the request's key) or `spiffiedPattern` (the
 * answer's key, upstream's spelling); the other keys `get` prints are ignored.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import type { PolicyInput } from "../../../lib/client/nexus.ts";
import { usageError } from "../../cli.ts";
import { readUserFile } from "../../input.ts";
import { splitPermissions } from "./flags.ts";

/** Largest policy file read by `apply --file`. */
const MAX_POLICY_FILE = 1024 * 1024;

/** The two spellings of the SPIFFE ID pattern key: the request's and the answer's. */
const SPIFFEID_KEYS = ["spiffeidPattern", "spiffiedPattern"] as const;

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "";
}

/** Reads a policy file's field, as a string. */
function fileString(doc: Record<string, unknown>, key: string, file: string): string {
  const v = doc[key];
  if (!present(v)) {
    throw usageError(`${key === "name" ? "policy name" : key} is required in ${file}`);
  }
  if (typeof v !== "string") throw usageError(`${key} in ${file} must be a string (quote it)`);
  return v;
}

/** The SPIFFE ID pattern under either spelling; both must agree when both are given. */
function spiffeidPattern(doc: Record<string, unknown>, file: string): string {
  const given = SPIFFEID_KEYS.filter((k) => present(doc[k]));
  if (given.length === 0) {
    // Name a near miss, so a typo is not reported as a missing key.
    const near = Object.keys(doc).find((k) =>
      /^spiff?e?i?d/i.test(k) && !SPIFFEID_KEYS.includes(k as never)
    );
    throw usageError(
      `spiffeidPattern is required in ${file} (or spiffiedPattern, as policy get prints it)` +
        (near ? `; found ${near}` : ""),
    );
  }
  const values = given.map((k) => fileString(doc, k, file));
  if (values.length === 2 && values[0] !== values[1]) {
    throw usageError(
      `${file} gives spiffeidPattern and spiffiedPattern different values; keep one`,
    );
  }
  return values[0];
}

/** Reads a policy from a YAML or JSON file, named as the user typed it. */
export async function policyFromFile(file: string): Promise<PolicyInput> {
  const text = new TextDecoder().decode(
    await readUserFile(file, {
      setting: "--file",
      max: MAX_POLICY_FILE,
      tooLarge: (shown) =>
        usageError(`${shown} is larger than ${MAX_POLICY_FILE} bytes; is it a policy?`),
    }),
  );
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const first = (e as Error).message.split("\n")[0];
    throw usageError(`${file} is not valid YAML or JSON: ${first}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw usageError(
      `${file} must hold one policy: a mapping with name, spiffeidPattern, pathPattern and ` +
        "permissions",
    );
  }
  const obj = doc as Record<string, unknown>;
  const name = fileString(obj, "name", file);
  const pattern = spiffeidPattern(obj, file);
  const pathPattern = fileString(obj, "pathPattern", file);
  const raw = obj.permissions;
  let permissions: string[];
  if (typeof raw === "string") {
    permissions = splitPermissions(raw);
  } else if (Array.isArray(raw) && raw.every((p) => typeof p === "string")) {
    permissions = (raw as string[]).map((p) => p.trim()).filter((p) => p !== "");
  } else if (raw === undefined || raw === null) {
    permissions = [];
  } else {
    throw usageError(`permissions in ${file} must be a list of strings, or one comma-separated`);
  }
  if (permissions.length === 0) throw usageError(`permissions are required in ${file}`);
  return { name, spiffeidPattern: pattern, pathPattern, permissions };
}
