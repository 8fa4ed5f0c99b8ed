/**
 * `SPIKE_NEXUS_AUDIT_FILE`: the absolute path of Nexus's durable audit file
 * (see `lib/log/audit.ts`), or unset for stderr only. Kept apart from the
 * audit writer so that the launcher, which grants the file, loads nothing
 * more than this.
 *
 * @module
 */

import { isAbsolute } from "../std/path.ts";
import { ConfigError } from "./env.ts";

/** The variable. */
export const AUDIT_FILE_ENV = "SPIKE_NEXUS_AUDIT_FILE";

/** The audit file's path, or undefined when `text` is unset or empty; a relative path throws. */
export function parseAuditFile(
  text: string | undefined,
  name = AUDIT_FILE_ENV,
): string | undefined {
  const path = text?.trim() ?? "";
  if (path === "") return undefined;
  if (!isAbsolute(path)) {
    throw new ConfigError(`${name}=${JSON.stringify(path)} is invalid: give an absolute path`);
  }
  return path;
}
