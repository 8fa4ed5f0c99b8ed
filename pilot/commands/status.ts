/**
 * `spike status`: what Nexus says about itself (`POST /v1/status`), for
 * people and for scripts: exit 0 when Nexus is ready, 6 when it is not (or
 * cannot be reached), so `spike status -f json` is also a readiness probe.
 * Any identity of SPIKE's trust domains may ask.
 *
 * @module
 */

import type { StatusResponse } from "../../lib/api/status.ts";
import { type Command, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";
import { FORMAT_OPTION, parseFormat, printData } from "../output.ts";

/** The human form of a status answer. */
export function formatStatus(status: StatusResponse, url: string): string {
  const key = status.ready
    ? `ready, generation ${status.keyGeneration}`
    : status.keyState === "pending"
    ? "pending: assembled from the Keepers, waiting for Bootstrap to verify it"
    : "not known yet: waiting for the Keepers' shares (or spike operator restore)";
  const lines = [
    `Nexus:     ${status.ready ? "ready" : "NOT READY"} (${url})`,
    `Root key:  ${key}`,
    `Backend:   ${status.backend}`,
  ];
  if (status.keepers.length === 0) {
    lines.push("Keepers:   none (this backend works without them)");
  } else {
    const holding = status.keepers.filter((k) => k.holdsShare).length;
    lines.push(
      `Keepers:   ${holding} of ${status.keepers.length} hold their share ` +
        `(${status.threshold} needed to rebuild the root key)`,
    );
    const width = Math.max(...status.keepers.map((k) => k.url.length));
    for (const k of status.keepers) {
      const state = k.holdsShare ? "holds its share" : k.problem ?? "holds no share";
      lines.push(`  ${k.index}  ${k.url.padEnd(width)}  ${state}`);
    }
  }
  lines.push(`Version:   ${status.version}`);
  return lines.join("\n") + "\n";
}

/** `spike status`. */
export const statusCommand: Command = {
  name: "status",
  summary: "Show whether Nexus is ready, its backend, Keepers and version",
  usage: "[-f human|json|yaml]",
  help: "  -f, --format FORMAT  human (default), json or yaml\n\n" +
    "Any SPIFFE ID of SPIKE's trust domains may ask; no policy is needed, and Nexus answers\n" +
    "before it has its root key. Nexus asks each Keeper (2 s at most) whether it answers\n" +
    "and holds its share. The key generation is 1 until root-key rotation exists.\n" +
    "JSON/YAML: {ready, keyState, keyGeneration, backend, keepers: [{index, url, reachable,\n" +
    "holdsShare, problem?}], threshold, version}.\n\n" +
    "Exit codes: 0 Nexus is ready, 6 it is not ready or cannot be reached.",
  options: { ...FORMAT_OPTION },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const format = parseFormat(values.format);
    const { status, url } = await withNexus("any", async (nexus) => {
      const status = await nexus.status();
      return { status, url: nexus.url };
    });
    printData(format, status, () => formatStatus(status, url));
    return status.ready ? Exit.ok : Exit.unavailable;
  },
};
