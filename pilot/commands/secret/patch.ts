/**
 * `spike secret patch`: a new version with the given keys merged into the
 * current one (Vault's `kv patch`). The write is a compare-and-set on the
 * version it was merged from (the put's `cas` field), so a concurrent write
 * is never overwritten: on a conflict the merge is redone on the newer
 * version, a few times, then given up with exit 1.
 *
 * @module
 */

import { ApiResponseError } from "../../../lib/client/errors.ts";
import { CliError, type Command } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import { writeOut } from "../../output.ts";
import { checkPath, checkValues, readPairs, VALUE_HELP } from "./args.ts";

/** Merges redone after conflicts before giving up. */
const ATTEMPTS = 8;

const isCode = (e: unknown, code: string) => e instanceof ApiResponseError && e.code === code;

/** `spike secret patch`. */
export const patch: Command = {
  name: "patch",
  summary: "Store a new version: the current one with some keys added or changed",
  usage: "PATH KEY=VALUE [KEY=VALUE ...]",
  help: VALUE_HELP +
    "The other keys of the current version are kept. The secret must exist (use put to\n" +
    "create it). The write only succeeds over the version it was merged from, so a\n" +
    "concurrent write is never lost: the merge is then redone on top of it. Needs a\n" +
    "Nexus of this project (upstream's Nexus has no compare-and-set). Prints OK.\n\n" +
    "Example: spike secret patch tenants/demo/db pass=-",
  async run({ positionals }) {
    const [rawPath, ...pairs] = positionals;
    const path = checkPath(rawPath);
    const changes = await readPairs(pairs);
    checkValues(changes);
    await withNexus("pilot-superuser", async (nexus) => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const base = (await nexus.getSecretMetadata(path)).metadata.currentVersion;
        let current: Record<string, string>;
        try {
          current = await nexus.getSecret(path, base);
        } catch (e) {
          if (isCode(e, "api_not_found")) continue; // deleted meanwhile: read again
          throw e;
        }
        const merged = { ...current, ...changes };
        checkValues(merged);
        try {
          await nexus.call("secret.put", { path, values: merged, cas: base });
          return;
        } catch (e) {
          if (!isCode(e, "api_conflict")) throw e;
        }
      }
      throw new CliError(
        `${path} kept changing while it was patched (${ATTEMPTS} tries); nothing was written, ` +
          "try again",
        Exit.failure,
      );
    }, { notFound: `secret ${path} not found (patch changes an existing secret; use put)` });
    writeOut("OK\n");
    return Exit.ok;
  },
};
