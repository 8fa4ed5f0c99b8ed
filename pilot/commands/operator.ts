/**
 * `spike operator recover|restore`: break-the-glass. Recover writes every
 * share to its own file (mode 0600) for offline safekeeping; restore hands
 * one share back to Nexus per run.
 *
 * @module
 */

import { join } from "node:path";
import { requireAccess } from "../../lib/config/permissions.ts";
import { envString } from "../../lib/config/env.ts";
import { formatRecoveryLine, parseRecoveryLine, shareIndex } from "../../lib/crypto/shamir.ts";
import { CliError, type Command, type CommandGroup } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";
import { readSecretLine, userPath } from "../input.ts";
import { backup, restoreBackup } from "./operator_backup.ts";
import { rekey } from "./rekey.ts";
import { rotate } from "./rotate.ts";

const RECOVERY_FILE = /^spike\.recovery\.\d+\.txt$/;

/** `SPIKE_PILOT_RECOVERY_DIR`, default `~/.spike/recover`. */
export function recoveryDir(): string {
  const configured = envString("SPIKE_PILOT_RECOVERY_DIR", "");
  // Relative to the folder the user is in, as every file name spike is given.
  if (configured) return userPath(configured, "SPIKE_PILOT_RECOVERY_DIR");
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new CliError("HOME is not set; set SPIKE_PILOT_RECOVERY_DIR to a folder", Exit.config);
  }
  return join(home, ".spike", "recover");
}

async function existingRecoveryFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (RECOVERY_FILE.test(entry.name)) found.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found;
}

const recover: Command = {
  name: "recover",
  summary: "Save every share of the root key to files, for break-the-glass recovery",
  usage: "",
  help: "Needs the pilot recover role. Writes spike.recovery.<i>.txt (mode 0600) into\n" +
    "SPIKE_PILOT_RECOVERY_DIR (default ~/.spike/recover) and never overwrites existing files.\n" +
    "Encrypt the files, keep them offline, and delete them here.",
  async run() {
    let dir = "";
    const shares = await withNexus("pilot-recover", async (nexus) => {
      // After the identity check, before asking Nexus: never fetch shares we cannot save.
      dir = recoveryDir();
      try {
        requireAccess(
          "SPIKE_PILOT_RECOVERY_DIR",
          { kind: "read", path: dir },
          { kind: "write", path: dir },
        );
      } catch (e) {
        throw new CliError((e as Error).message, Exit.config);
      }
      const existing = await existingRecoveryFiles(dir);
      if (existing.length > 0) {
        throw new CliError(
          `${dir} already holds ${existing.join(", ")}; move them away first (nothing was written)`,
          Exit.failure,
        );
      }
      return await nexus.recover();
    });
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const written: string[] = [];
    try {
      for (const share of shares) {
        const path = join(dir, `spike.recovery.${shareIndex(share)}.txt`);
        // createNew: fail rather than overwrite, even if a file appeared meanwhile.
        await Deno.writeTextFile(path, formatRecoveryLine(share), { createNew: true, mode: 0o600 });
        written.push(path);
      }
    } finally {
      for (const share of shares) share.fill(0);
    }
    console.error(
      `wrote ${written.length} recovery shares to ${dir}; encrypt them, store them offline, ` +
        "and delete them from this machine",
    );
    for (const path of written) console.log(path);
    return Exit.ok;
  },
};

const restore: Command = {
  name: "restore",
  summary: "Give Nexus one recovery share back (run once per share)",
  usage: "",
  help: "Needs the pilot restore role. Reads one share (spike:<i>:<hex>) from a hidden prompt\n" +
    "on a terminal, or from standard input, and prints how many shares Nexus still needs.",
  async run() {
    const line = await readSecretLine("Enter recovery shard: ");
    let share: Uint8Array;
    try {
      share = parseRecoveryLine(line);
    } catch (e) {
      throw new CliError((e as Error).message, Exit.usage);
    }
    try {
      const status = await withNexus("pilot-restore", (nexus) => nexus.restore(share));
      if (status.retiredGeneration) {
        throw new CliError(
          `share ${
            shareIndex(share)
          } belongs to root key generation ${status.retiredGeneration}, ` +
            "which a rotation retired; it was not counted. Use the recovery files made after " +
            "the last rotation (spike operator recover)",
          Exit.failure,
        );
      }
      if (status.replacedByRekey) {
        throw new CliError(
          `share ${shareIndex(share)} belongs to a Keeper set that a rekey replaced; it was ` +
            "not counted. Use the recovery files made after the last rekey " +
            "(spike operator recover)",
          Exit.failure,
        );
      }
      if (status.restored) {
        console.log("Nexus has its root key back and is serving.");
      } else {
        console.log(
          `Share accepted: ${status.collected} collected, ${status.remaining} more needed.`,
        );
      }
      return Exit.ok;
    } finally {
      share.fill(0);
    }
  },
};

/** `spike operator`. */
export const operatorCommands: CommandGroup = {
  name: "operator",
  summary: "Break-the-glass recovery, root key rotation and backups",
  commands: [recover, restore, rotate, rekey, backup, restoreBackup],
};
