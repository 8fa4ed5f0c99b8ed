/**
 * `spike operator rotate`: a new root key (`POST /v1/operator/rotate`,
 * superuser only). Nexus re-seals every record under it while it keeps
 * serving, hands the new shares to the Keepers and retires the old key; this
 * command waits for the end (asking again while Nexus answers "not done"),
 * then says that the recovery files made before no longer restore.
 *
 * @module
 */

import type { RotateResponse } from "../../lib/api/rotation.ts";
import { CliError, type Command } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";

/** How long `rotate` waits for Nexus to finish (each call is answered within about 20 s). */
const MAX_WAIT_MS = 60 * 60_000;

/** `spike operator rotate`. */
export const rotate: Command = {
  name: "rotate",
  summary: "Replace the root key with a new one and re-encrypt every record under it",
  usage: "",
  help: "Needs the pilot superuser role. Nexus keeps serving while it re-encrypts; a crash\n" +
    "at any point is finished by the next start. When it is done, recovery files made\n" +
    "before no longer restore: run `spike operator recover` again (recover role).",
  async run() {
    const done = await withNexus("pilot-superuser", async (nexus) => {
      let answer = await nexus.call<RotateResponse>("rootkey.rotate", {});
      const until = Date.now() + MAX_WAIT_MS;
      while (!answer.done) {
        console.error(`rotating root key ${answer.from} → ${answer.to}: ${answer.state} ...`);
        if (Date.now() > until) {
          throw new CliError(
            "the rotation has not finished yet; Nexus carries on by itself " +
              "(spike status shows the generation in use)",
            Exit.failure,
          );
        }
        answer = await nexus.call<RotateResponse>("rootkey.rotate", { generation: answer.to });
      }
      return answer;
    });
    console.log(`Root key rotated: generation ${done.to} is in use, ${done.from} is retired.`);
    console.error(
      "Recovery files made before this rotation no longer restore. Run `spike operator recover`\n" +
        "(recover role) now, store the new files offline, and destroy the old ones.",
    );
    return Exit.ok;
  },
};
