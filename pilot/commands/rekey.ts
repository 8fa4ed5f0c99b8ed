/**
 * `spike operator rekey --shares N --threshold T [--keeper URL ...]`: new
 * shares of the same root key for a new Keeper set (`POST
 * /v1/operator/rekey`, superuser only). No record is re-sealed; the Keepers
 * of the new set each get a new share, Keepers dropped from it have theirs
 * overwritten. A plan Nexus refuses changes nothing and says why.
 *
 * @module
 */

import type { RekeyRefusal, RekeyResponse } from "../../lib/api/rotation.ts";
import { ApiResponseError } from "../../lib/client/errors.ts";
import { CliError, type Command, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";

function count(value: unknown, flag: string): number {
  if (typeof value !== "string") throw usageError(`${flag} N is required`);
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value) || n < 2 || n > 255) {
    throw usageError(`${flag} must be a whole number from 2 to 255 (got ${value})`);
  }
  return n;
}

function refusal(e: unknown): string | undefined {
  if (!(e instanceof ApiResponseError) || e.status !== 400 || !e.body) return undefined;
  try {
    return (JSON.parse(new TextDecoder().decode(e.body)) as Partial<RekeyRefusal>).refused;
  } catch {
    return undefined;
  }
}

/** `spike operator rekey`. */
export const rekey: Command = {
  name: "rekey",
  summary: "Split the same root key into new shares for a new set of Keepers",
  usage: "--shares N --threshold T [--keeper URL ...]",
  help: "  --shares N       how many Keepers hold a share\n" +
    "  --threshold T    how many shares give the root key back\n" +
    "  --keeper URL     a Keeper of the new set (repeat it N times; default: every Keeper\n" +
    "                   in Nexus's SPIKE_NEXUS_KEEPER_PEERS)\n\n" +
    "Needs the pilot superuser role. Every Keeper of the new set must be listed in\n" +
    "SPIKE_NEXUS_KEEPER_PEERS (restart Nexus with it first) and answer. Records are not\n" +
    "re-encrypted. When it is done, recovery files made before no longer restore: run\n" +
    "`spike operator recover` again (recover role).",
  options: {
    shares: { type: "string" },
    threshold: { type: "string" },
    keeper: { type: "string", multiple: true },
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const shares = count(values.shares, "--shares");
    const threshold = count(values.threshold, "--threshold");
    if (threshold > shares) {
      throw usageError(`--threshold (${threshold}) cannot be above --shares (${shares})`);
    }
    const keepers = values.keeper as string[] | undefined;
    if (keepers && keepers.length !== shares) {
      throw usageError(`--shares ${shares} needs ${shares} --keeper URLs (got ${keepers.length})`);
    }
    const done = await withNexus("pilot-superuser", async (nexus) => {
      try {
        return await nexus.call<RekeyResponse>("rootkey.rekey", {
          shares,
          threshold,
          ...(keepers ? { keepers } : {}),
        });
      } catch (e) {
        const why = refusal(e);
        if (why) throw new CliError(`rekey refused, nothing changed: ${why}`, Exit.failure);
        if (e instanceof ApiResponseError && e.status === 503) {
          throw new CliError(
            "the rekey has started but a Keeper did not take its new share yet; Nexus " +
              "carries on by itself when it answers (spike status shows the threshold)",
            Exit.failure,
          );
        }
        throw e;
      }
    });
    console.log(
      `Rekeyed: any ${done.threshold} of ${done.keepers.length} Keepers give the root key:\n` +
        done.keepers.map((k) => `  share ${k.index}: ${k.url}`).join("\n"),
    );
    for (const url of done.notForgotten) {
      console.error(
        `Keeper ${url} left the set but did not answer; it keeps its old share until it restarts.`,
      );
    }
    console.error(
      "Recovery files made before this rekey no longer restore. Run `spike operator recover`\n" +
        "(recover role) now, store the new files offline, and destroy the old ones.",
    );
    return Exit.ok;
  },
};
