/**
 * SPIKE Pilot, the `spike` command: every command is an mTLS call to Nexus.
 *
 * @module
 */

import { runCli } from "./cli.ts";
import { operatorCommands } from "./commands/operator.ts";
import { VERSION } from "../lib/version.ts";

const root = {
  name: "spike",
  summary: `SPIKE Pilot ${VERSION}: manage secrets, policies and the root key of SPIKE Nexus`,
  commands: [
    operatorCommands,
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

Deno.exit(await runCli("spike", root, Deno.args));
