/**
 * SPIKE Pilot, the `spike` command: every command is an mTLS call to Nexus.
 *
 * @module
 */

import { runCli } from "./cli.ts";
import { cipherCommands } from "./commands/cipher.ts";
import { operatorCommands } from "./commands/operator.ts";
import { policyCommands } from "./commands/policy.ts";
import { runCommand } from "./commands/run.ts";
import { secretCommands } from "./commands/secret.ts";
import { VERSION } from "../lib/version.ts";

const root = {
  name: "spike",
  summary: `SPIKE Pilot ${VERSION}: manage secrets, policies and the root key of SPIKE Nexus`,
  commands: [
    secretCommands,
    policyCommands,
    cipherCommands,
    operatorCommands,
    runCommand,
    {
      name: "version",
      summary: "Print the version",
      usage: "",
      run: () => {
        console.log(`spike ${VERSION}`);
        return Promise.resolve(0);
      },
    },
  ],
};

// Only `spike run` starts programs; every other command gives that permission up at once.
if (Deno.args[0] !== "run" && Deno.permissions.querySync({ name: "run" }).state === "granted") {
  Deno.permissions.revokeSync({ name: "run" });
}

Deno.exit(await runCli("spike", root, Deno.args));
