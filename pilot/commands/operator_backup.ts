/**
 * `spike operator backup` and `spike operator restore-backup`: a consistent,
 * still-sealed snapshot of the whole store into a file (mode 0600, never
 * replacing one), and loading such a file into a Nexus that holds the same
 * root key. Both need the Pilot superuser. The file is checked (format,
 * digest, record count) on both sides: a damaged answer is never written, a
 * damaged file is never sent.
 *
 * @module
 */

import { ApiError } from "../../lib/api/errors.ts";
import { ApiResponseError } from "../../lib/client/errors.ts";
import { parseBackup } from "../../lib/api/backup.ts";
import { BACKUP_MAX_BYTES } from "../../lib/api/routes.ts";
import { CliError, type Command, configError, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";
import { checkUserOutput, readUserFile, userPath } from "../input.ts";
import { note, writeOut } from "../output.ts";

/** Checks a backup's bytes; a fault becomes `fault` (exit code) with the reason. */
function checked(bytes: Uint8Array, what: string, exit: number) {
  try {
    return parseBackup(bytes);
  } catch (e) {
    if (e instanceof ApiError) throw new CliError(`${what}: ${e.message}`, exit);
    throw e;
  }
}

/** Writes a new file with mode 0600; an existing file is never replaced. */
async function writeNewFile(file: string, setting: string, data: Uint8Array): Promise<string> {
  const path = userPath(file, setting);
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw configError(`${file} exists; a backup never replaces a file: choose another name`);
    }
    throw configError(`cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    await Deno.chmod(path, 0o600); // a umask may have narrowed it further, never widened
    let written = 0;
    while (written < data.length) written += await handle.write(data.subarray(written));
    await handle.sync();
  } catch (e) {
    handle.close();
    await Deno.remove(path).catch(() => {});
    throw configError(`cannot write ${file}: ${(e as Error).message}`);
  }
  handle.close();
  return path;
}

/** `spike operator backup`. */
export const backup: Command = {
  name: "backup",
  summary: "Save a consistent, still-encrypted snapshot of the whole store to a file",
  usage: "-o|--output FILE",
  help: "  -o, --output FILE   the backup file, created with mode 0600 (never replaced)\n\n" +
    "Needs the pilot superuser. Nexus takes the snapshot while it keeps serving; records\n" +
    "stay sealed under the root key (paths and policy names are in clear, as in the\n" +
    "store). Restore it with `spike operator restore-backup` into a Nexus with the same\n" +
    "root key.",
  options: { output: { type: "string", short: "o" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const out = values.output as string | undefined;
    if (out === undefined) throw usageError("--output FILE is required");
    checkUserOutput(out, "--output");
    const bytes = await withNexus("pilot-superuser", (nexus) => nexus.backup());
    const { header } = checked(bytes, "Nexus answered a damaged backup; nothing written", 1);
    const path = await writeNewFile(out, "--output", bytes);
    writeOut(`Backup of ${header.records} records written to ${path}.\n`);
    note(`Taken ${header.created} from the ${header.backend} backend; digest ${header.digest}.`);
    return Exit.ok;
  },
};

/** `spike operator restore-backup`. */
export const restoreBackup: Command = {
  name: "restore-backup",
  summary: "Load a backup file into a Nexus that holds the same root key",
  usage: "-f|--file FILE [--force]",
  help: "  -f, --file FILE   the backup file\n" +
    "      --force       replace a store that already holds secrets or policies\n\n" +
    "Needs the pilot superuser. Nexus refuses, changing nothing, a backup made under\n" +
    "another root key (exit 5) and, without --force, a store that holds any record\n" +
    "besides its key check (exit 1). A fresh Nexus whose Keepers hold the key's shares\n" +
    "(waiting for Bootstrap) takes the backup and serves. With --force, records the\n" +
    "backup does not hold are deleted.",
  options: { file: { type: "string", short: "f" }, force: { type: "boolean" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const file = values.file as string | undefined;
    if (file === undefined) throw usageError("--file FILE is required");
    const bytes = await readUserFile(file, {
      setting: "--file",
      max: BACKUP_MAX_BYTES,
      tooLarge: (f) => configError(`${f} is larger than a backup can be (512 MiB)`),
    });
    checked(bytes, `${file} is not a usable backup; nothing sent`, Exit.badRequest);
    const force = values.force === true;
    const result = await withNexus("pilot-superuser", async (nexus) => {
      try {
        return await nexus.restoreBackup(bytes, force);
      } catch (e) {
        if (!(e instanceof ApiResponseError)) throw e;
        if (e.code === "api_conflict") {
          throw new CliError(
            "the store already holds secrets or policies; nothing was written (--force " +
              "replaces them)",
            Exit.failure,
          );
        }
        if (e.code === "api_bad_request") {
          throw new CliError(
            "Nexus refused the backup: it was made under another root key, or it is damaged; " +
              "nothing was written (the Nexus log says which)",
            Exit.badRequest,
          );
        }
        throw e;
      }
    });
    writeOut(
      `Restored ${result.records} records` +
        (result.replaced ? ` (${result.replaced} records of the store replaced or removed)` : "") +
        ".\n",
    );
    return Exit.ok;
  },
};
