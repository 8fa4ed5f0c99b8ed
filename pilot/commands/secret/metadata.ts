/**
 * `spike secret metadata get`: a secret's versions and their times, in
 * upstream's layout or as the API's object.
 *
 * @module
 */

import type { SecretMetadataResponse } from "../../../lib/api/secrets.ts";
import type { Command } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { FORMAT_OPTION, parseFormat, printData } from "../../output.ts";
import { checkPath, versionFlag } from "./args.ts";

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

/** `spike secret metadata get`. */
export const metadataGet: Command = {
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
