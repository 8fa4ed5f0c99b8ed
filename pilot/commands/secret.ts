/**
 * `spike secret put|get|list|delete|undelete|metadata get|export`. Values can
 * come from stdin (`key=-`) or a file (`key=@path`), so secrets need not
 * appear on the command line or in shell history.
 *
 * @module
 */

import { ApiError } from "../../lib/api/errors.ts";
import { validateSecretPath, validateSecretValues } from "../../lib/api/secrets.ts";
import type { SecretMetadataResponse } from "../../lib/api/secrets.ts";
import { requireAccess } from "../../lib/config/permissions.ts";
import { stringify as toYaml } from "yaml";
import { CliError, type Command, type CommandGroup, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { envNames, shellQuote } from "../envnames.ts";
import { Exit } from "../exit.ts";
import { readSecretLine, readStdin } from "../input.ts";
import { FORMAT_OPTION, note, parseFormat, printData, writeOut } from "../output.ts";

const MAX_VALUE_BYTES = 1024 * 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function checkPath(path: string | undefined): string {
  if (path === undefined) throw usageError("the secret path is missing");
  try {
    validateSecretPath(path);
  } catch {
    throw new CliError(
      `invalid secret path: ${path} (1-500 characters of a-z A-Z 0-9 . _ - / ( ) ? + * | [ ] { } \\)`,
      Exit.usage,
    );
  }
  return path;
}

function versionFlag(value: unknown): number {
  if (value === undefined) return 0;
  const text = String(value);
  if (!/^\d+$/.test(text)) throw usageError(`invalid version number: ${text}`);
  return Number(text);
}

/** Parses `-v 1,2,3`: whole numbers, none negative. */
export function versionList(value: unknown): number[] {
  if (value === undefined || value === "") return [];
  return String(value).split(",").map((part) => {
    const text = part.trim();
    if (/^-\d+$/.test(text)) throw usageError(`negative version number: ${text}`);
    if (!/^\d+$/.test(text)) throw usageError(`invalid version number: ${text}`);
    return Number(text);
  });
}

async function valueFrom(key: string, spec: string, stdinUsed: { by?: string }): Promise<string> {
  let bytes: Uint8Array;
  if (spec === "-") {
    if (stdinUsed.by) throw usageError(`only one value can come from stdin (${stdinUsed.by} does)`);
    stdinUsed.by = key;
    if (Deno.stdin.isTerminal()) return await readSecretLine(`value for ${key}: `);
    bytes = await readStdin(MAX_VALUE_BYTES);
    // `echo value | spike secret put p k=-` should store "value", not "value\n".
    if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
  } else if (spec.startsWith("@")) {
    const file = spec.slice(1);
    try {
      requireAccess(`the value of ${key}`, { kind: "read", path: file });
    } catch (e) {
      throw new CliError((e as Error).message, Exit.usage);
    }
    try {
      bytes = await Deno.readFile(file);
    } catch (e) {
      throw new CliError(`cannot read ${file} for ${key}: ${(e as Error).message}`, Exit.usage);
    }
  } else {
    return spec;
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CliError(
      `the value of ${key} is not UTF-8 text; encode it (e.g. base64)`,
      Exit.usage,
    );
  } finally {
    bytes.fill(0);
  }
}

const put: Command = {
  name: "put",
  summary: "Store a new version of a secret",
  usage: "PATH KEY=VALUE [KEY=VALUE ...]",
  help: "VALUE may be:\n" +
    "  text      the value itself (it then shows in the process list and shell history)\n" +
    "  -         read from stdin (a hidden prompt on a terminal; one trailing newline dropped)\n" +
    "  @FILE     read from FILE, exactly\n" +
    "The new version holds exactly these keys. Prints OK.\n\n" +
    "Example: spike secret put tenants/demo/db user=admin pass=-",
  async run({ positionals }) {
    const [rawPath, ...pairs] = positionals;
    const path = checkPath(rawPath);
    if (pairs.length === 0) throw usageError("give at least one KEY=VALUE");
    const values: Record<string, string> = {};
    const stdinUsed: { by?: string } = {};
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw usageError(`invalid key-value pair: ${pair.split("=")[0]}`);
      const key = pair.slice(0, eq);
      if (key in values) throw usageError(`key ${key} is given twice`);
      values[key] = await valueFrom(key, pair.slice(eq + 1), stdinUsed);
    }
    try {
      validateSecretValues(values).fill(0);
    } catch (e) {
      if (e instanceof ApiError) {
        throw new CliError(
          e.message.includes("key")
            ? "invalid key name: keys are 1-250 characters of a-z A-Z 0-9 _ - and space"
            : "the secret is too large (at most 512 KiB)",
          Exit.usage,
        );
      }
      throw e;
    }
    await withNexus("pilot-superuser", (nexus) => nexus.putSecret(path, values));
    writeOut("OK\n");
    return Exit.ok;
  },
};

const get: Command = {
  name: "get",
  summary: "Print a secret, or one value of it",
  usage: "PATH [KEY] [-v VERSION] [-f human|json|yaml]",
  help: "With KEY, prints that value alone, raw (a newline is added only on a terminal),\n" +
    "for $(spike secret get PATH KEY) in scripts. Without KEY: every key, one `key: value`\n" +
    "per line, sorted. JSON: the object of keys and values (or the single value, a string).\n" +
    "-v, --version N   a given version (default: the current one)",
  options: { version: { type: "string", short: "v" }, ...FORMAT_OPTION },
  async run({ values, positionals }) {
    const format = parseFormat(values.format);
    const [rawPath, key, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
    const path = checkPath(rawPath);
    const version = versionFlag(values.version);
    const data = await withNexus(
      "pilot-superuser",
      (nexus) => nexus.getSecret(path, version),
      { notFound: `secret ${path}${version ? ` version ${version}` : ""} not found` },
    );
    if (key !== undefined) {
      if (!(key in data)) throw new CliError(`key ${key} not found in ${path}`, Exit.notFound);
      const value = data[key];
      printData(format, value, () => value + (Deno.stdout.isTerminal() ? "\n" : ""));
      return Exit.ok;
    }
    const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => a < b ? -1 : 1));
    printData(
      format,
      sorted,
      () => Object.entries(sorted).map(([k, v]) => `${k}: ${v}\n`).join(""),
    );
    return Exit.ok;
  },
};

const list: Command = {
  name: "list",
  summary: "List every secret path",
  usage: "[-f human|json|yaml]",
  help: "Human: `- PATH` per line. JSON/YAML: an array of paths, sorted.",
  options: { ...FORMAT_OPTION },
  async run({ values }) {
    const format = parseFormat(values.format);
    const paths = await withNexus("pilot-superuser", (nexus) => nexus.listSecrets());
    if (format === "human" && paths.length === 0) {
      note("No secrets found.");
      return Exit.ok;
    }
    printData(format, paths, () => paths.map((p) => `- ${p}\n`).join(""));
    return Exit.ok;
  },
};

function versionsCommand(name: "delete" | "undelete"): Command {
  const verb = name === "delete" ? "Delete" : "Undelete";
  return {
    name,
    summary: `${verb} versions of a secret`,
    usage: "PATH [-v VERSIONS]",
    help: `-v, --versions 1,2,3   versions to ${name} (default: the current one` +
      (name === "undelete" ? ", or the latest when all are deleted)" : ")") + "\nPrints OK.",
    options: { versions: { type: "string", short: "v" } },
    async run({ values, positionals }) {
      const [rawPath, ...extra] = positionals;
      if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
      const path = checkPath(rawPath);
      const versions = versionList(values.versions);
      await withNexus(
        "pilot-superuser",
        (nexus) =>
          name === "delete"
            ? nexus.deleteSecret(path, versions)
            : nexus.undeleteSecret(path, versions),
        {
          notFound: name === "delete"
            ? `secret ${path} not found`
            : `nothing to undelete in ${path}`,
        },
      );
      writeOut("OK\n");
      return Exit.ok;
    },
  };
}

function humanTime(iso: string | null): string {
  if (!iso) return "";
  return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** Upstream's human metadata layout. */
export function formatMetadata(meta: SecretMetadataResponse): string {
  const line = "-".repeat(50);
  const m = meta.metadata;
  const out = [
    "",
    "Metadata:",
    line,
    `Current Version : ${m.currentVersion}`,
    `Oldest Version  : ${m.oldestVersion}`,
    `Created Time    : ${humanTime(m.createdTime)}`,
    `Last Updated    : ${humanTime(m.updatedTime)}`,
    `Max Versions    : ${m.maxVersions}`,
    line,
    "",
    "Secret Versions:",
    line,
  ];
  const versions = Object.values(meta.versions ?? {}).sort((a, b) => a.version - b.version);
  for (const v of versions) {
    out.push(`Version ${v.version}:`, `  Created: ${humanTime(v.createdTime)}`);
    if (v.deletedTime) out.push(`  Deleted: ${humanTime(v.deletedTime)}`);
    out.push(line);
  }
  return out.join("\n") + "\n";
}

const metadataGet: Command = {
  name: "get",
  summary: "Print a secret's metadata: its versions and their times",
  usage: "PATH [-v VERSION] [-f human|json|yaml]",
  help: "JSON/YAML: {versions: {N: {createdTime, version, deletedTime}}, metadata: " +
    "{currentVersion, oldestVersion, createdTime, updatedTime, maxVersions}}",
  options: { version: { type: "string", short: "v" }, ...FORMAT_OPTION },
  async run({ values, positionals }) {
    const format = parseFormat(values.format);
    const path = checkPath(positionals[0]);
    const version = versionFlag(values.version);
    const meta = await withNexus(
      "pilot-superuser",
      (nexus) => nexus.getSecretMetadata(path, version),
      { notFound: `secret ${path}${version ? ` version ${version}` : ""} not found` },
    );
    printData(format, meta, () => formatMetadata(meta));
    return Exit.ok;
  },
};

const exportCommand: Command = {
  name: "export",
  summary: "Print a secret for tools that want a file: env, json or yaml",
  usage: "PATH [--format env|json|yaml] [-v VERSION]",
  help: "env: one NAME='value' per line (names upper-cased, other characters made _),\n" +
    "safe to source in a POSIX shell. Redirect it to a file of your choosing.",
  options: {
    format: { type: "string", short: "f", default: "env" },
    version: { type: "string", short: "v" },
  },
  async run({ values, positionals }) {
    const path = checkPath(positionals[0]);
    const kind = String(values.format);
    if (!["env", "json", "yaml"].includes(kind)) {
      throw usageError(`invalid format '${kind}'; use env, json or yaml`);
    }
    const version = versionFlag(values.version);
    const data = await withNexus(
      "pilot-superuser",
      (nexus) => nexus.getSecret(path, version),
      { notFound: `secret ${path} not found` },
    );
    if (kind === "json") writeOut(JSON.stringify(data, null, 2) + "\n");
    else if (kind === "yaml") writeOut(toYaml(data));
    else {
      const names = envNames([{ source: path, values: data }]);
      writeOut(names.map(({ name, value }) => `${name}=${shellQuote(value)}\n`).join(""));
    }
    return Exit.ok;
  },
};

/** `spike secret`. */
export const secretCommands: CommandGroup = {
  name: "secret",
  summary: "Store and read secrets",
  commands: [
    put,
    get,
    list,
    versionsCommand("delete"),
    versionsCommand("undelete"),
    { name: "metadata", summary: "Secret metadata", commands: [metadataGet] },
    exportCommand,
  ],
};
