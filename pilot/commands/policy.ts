/**
 * `spike policy create|apply|list|get|delete`, with upstream's flags and
 * outputs, and non-zero exit codes on every error. Policies are checked here
 * with the server's own rules before they are sent, so a bad permission or
 * pattern is one clear sentence instead of a bare 400.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { ApiError } from "../../lib/api/errors.ts";
import {
  PERMISSIONS,
  type PolicyResponse,
  validatePolicyId,
  validatePolicyPut,
} from "../../lib/api/policies.ts";
import { ApiResponseError } from "../../lib/client/errors.ts";
import type { PolicyInput } from "../../lib/client/nexus.ts";
import { requireAccess } from "../../lib/config/permissions.ts";
import { CliError, type Command, type CommandGroup, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";
import { FORMAT_OPTION, note, parseFormat, printData, writeOut } from "../output.ts";

/** Largest policy file read by `apply --file`. */
const MAX_POLICY_FILE = 1024 * 1024;

/** The four policy flags of `create` and `apply`, in upstream's order of mention. */
const POLICY_FLAGS = ["name", "path-pattern", "spiffeid-pattern", "permissions"] as const;

const POLICY_OPTIONS = {
  name: { type: "string" as const },
  "path-pattern": { type: "string" as const },
  "spiffeid-pattern": { type: "string" as const },
  permissions: { type: "string" as const },
};

const POLICY_FLAGS_HELP =
  "  --name NAME                 policy name (a-z A-Z 0-9 - _ and space)\n" +
  "  --spiffeid-pattern REGEX    RE2 pattern for the SPIFFE IDs it applies to\n" +
  "  --path-pattern REGEX        RE2 pattern for the secret paths it covers\n" +
  `  --permissions LIST          comma-separated: ${PERMISSIONS.join(", ")}`;

/** Splits `read, write` into `["read", "write"]`, dropping empty entries. */
function splitPermissions(text: string): string[] {
  return text.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/** The detail of an API validation error, without its code. */
function detail(e: ApiError): string {
  return e.message.replace(/^api_bad_request: /, "");
}

/**
 * Checks a policy with the server's rules: permissions first, with upstream's
 * message, then name, patterns and the reserved-path guard.
 */
function checkPolicy(policy: PolicyInput): PolicyInput {
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
    if (e instanceof ApiError) throw usageError(detail(e));
    throw e;
  }
}

/** The policy given by the four flags; `missing` lists any absent or empty ones. */
function policyFromFlags(values: Record<string, unknown>): {
  policy: PolicyInput;
  missing: string[];
} {
  const missing = POLICY_FLAGS.filter((f) => {
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

function missingLines(missing: string[]): string {
  return missing.map((f) => `  --${f} is missing`).join("\n");
}

/** The policy name, from the argument or `--name` (not both, unless equal). */
function nameArgument(values: Record<string, unknown>, positionals: string[]): string {
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
    if (e instanceof ApiError) throw usageError(detail(e));
    throw e;
  }
}

/** Go's `time.RFC3339` form of an API time: no fractional seconds. */
function rfc3339(time: string): string {
  return time.replace(/\.\d+(?=(Z|[+-]\d{2}:\d{2})$)/, "");
}

/** True for Go's zero `time.Time` (or no time at all). */
function isZeroTime(time: string | undefined | null): boolean {
  return !time || time.startsWith("0001-01-01");
}

/** The policy object as the API answers it, keys in the API's order. */
function policyObject(p: PolicyResponse): PolicyResponse {
  return {
    id: p.id ?? "",
    name: p.name,
    spiffiedPattern: p.spiffiedPattern,
    pathPattern: p.pathPattern,
    permissions: p.permissions ?? [],
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** Upstream's human layout of one policy. */
export function formatPolicy(p: PolicyResponse): string {
  let out = "POLICY DETAILS\n=============\n\n" +
    `Name: ${p.name}\n` +
    `SPIFFE ID Pattern: ${p.spiffiedPattern}\n` +
    `Path Pattern: ${p.pathPattern}\n` +
    `Permissions: ${(p.permissions ?? []).join(", ")}\n` +
    `Created At: ${rfc3339(p.createdAt ?? "")}\n`;
  if (!isZeroTime(p.updatedAt)) out += `Updated At: ${rfc3339(p.updatedAt)}\n`;
  return out;
}

/** Upstream's human layout of a policy list (non-empty). */
export function formatPolicyList(policies: { name: string }[]): string {
  return "POLICIES\n========\n\n" + policies.map((p) => `Name: ${p.name}\n--------\n\n`).join("");
}

/** Reads a policy file's field, as a string. */
function fileString(doc: Record<string, unknown>, key: string, file: string): string {
  const v = doc[key];
  if (v === undefined || v === null || v === "") {
    throw usageError(`${key === "name" ? "policy name" : key} is required in ${file}`);
  }
  if (typeof v !== "string") throw usageError(`${key} in ${file} must be a string (quote it)`);
  return v;
}

/** Reads a policy from a YAML or JSON file. */
async function policyFromFile(file: string): Promise<PolicyInput> {
  try {
    requireAccess("--file", { kind: "read", path: file });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  let text: string;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw usageError(`${file} is not a file`);
    if (info.size > MAX_POLICY_FILE) {
      throw usageError(`${file} is larger than ${MAX_POLICY_FILE} bytes; is it a policy?`);
    }
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof Deno.errors.NotFound) throw usageError(`file ${file} does not exist`);
    throw usageError(`cannot read ${file}: ${(e as Error).message}`);
  }
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
  const spiffeidPattern = fileString(obj, "spiffeidPattern", file);
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
  return { name, spiffeidPattern, pathPattern, permissions };
}

const create: Command = {
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

const apply: Command = {
  name: "apply",
  summary: "Create or replace a policy, from a YAML/JSON file or from flags",
  usage: "--file FILE | --name NAME --spiffeid-pattern REGEX --path-pattern REGEX " +
    "--permissions LIST",
  help: "  --file FILE                 a YAML (or JSON) policy:\n" +
    "                                name: orders-db\n" +
    "                                spiffeidPattern: ^spiffe://spike\\.ist/workload/orders$\n" +
    "                                pathPattern: ^secrets/orders/db$\n" +
    '                                permissions: [read]   (a list, or "read,write")\n' +
    "or all four flags:\n" + POLICY_FLAGS_HELP +
    "\n\nA policy with the same name is replaced (its creation time is kept).",
  options: { ...POLICY_OPTIONS, file: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const file = values.file as string | undefined;
    let policy: PolicyInput;
    if (file !== undefined) {
      const flags = POLICY_FLAGS.filter((f) => values[f] !== undefined);
      if (flags.length > 0) {
        throw usageError(`give --file or the policy flags, not both (--${flags[0]} was given)`);
      }
      if (file === "") throw usageError("--file needs a file name");
      policy = await policyFromFile(file);
    } else {
      const fromFlags = policyFromFlags(values);
      if (fromFlags.missing.length > 0) {
        throw usageError(
          `give --file, or all four policy flags:\n${missingLines(fromFlags.missing)}`,
        );
      }
      policy = fromFlags.policy;
    }
    const valid = checkPolicy(policy);
    await withNexus("pilot-superuser", (nexus) => nexus.putPolicy(valid));
    writeOut(`Policy '${valid.name}' applied successfully\n`);
    return Exit.ok;
  },
};

const list: Command = {
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

const get: Command = {
  name: "get",
  summary: "Print a policy",
  usage: "NAME | --name NAME [-f human|json|yaml]",
  help: "  -f, --format FORMAT   human (default), json or yaml\n\n" +
    "JSON/YAML: the API's policy object {id, name, spiffiedPattern (upstream's spelling),\n" +
    "pathPattern, permissions, createdAt, updatedAt}. A missing policy exits 3.",
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

/** Reads one line from stdin (a terminal or a pipe), without reading past it. */
async function readLine(max = 1024): Promise<string> {
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) break;
    if (n === 0) continue;
    if (buf[0] === 0x0a) break;
    if (bytes.length < max) bytes.push(buf[0]);
  }
  return new TextDecoder().decode(new Uint8Array(bytes)).trim();
}

const del: Command = {
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
      Deno.stderr.writeSync(
        new TextEncoder().encode(`Are you sure you want to delete policy '${name}'? (y/N): `),
      );
      const answer = await readLine();
      if (!Deno.stdin.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      if (answer !== "y" && answer !== "Y") {
        note("Operation canceled.");
        return Exit.failure;
      }
    }
    await withNexus("pilot-superuser", (nexus) => nexus.deletePolicy(name), notFound);
    writeOut("Policy deleted successfully.\n");
    return Exit.ok;
  },
};

/** `spike policy`. */
export const policyCommands: CommandGroup = {
  name: "policy",
  summary: "Manage access policies",
  commands: [create, apply, list, get, del],
};
