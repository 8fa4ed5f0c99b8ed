/**
 * SPIKE Pilot, the `spike` command: every command is an mTLS call to Nexus.
 *
 * @module
 */

import { type CommandGroup, runCli } from "./cli.ts";
import { completionCommand } from "./commands/completion.ts";
import { cipherCommands } from "./commands/cipher/mod.ts";
import { operatorCommands } from "./commands/operator.ts";
import { policyCommands } from "./commands/policy/mod.ts";
import { runCommand } from "./commands/run.ts";
import { secretCommands } from "./commands/secret/mod.ts";
import { statusCommand } from "./commands/status.ts";
import { VERSION } from "../lib/program/version.ts";

/** The variables Pilot reads, for `spike --help` (the README's Configuration has them all). */
const ENVIRONMENT = `Environment:
  SPIKE_NEXUS_API_URL          where Nexus is (default https://localhost:8553)
  SPIFFE_ENDPOINT_SOCKET       the Workload API that gives Pilot its SVID
                               (unix:///path or tcp://ip:port)
  SPIKE_PILOT_DEFAULT_SOCKET   used when SPIFFE_ENDPOINT_SOCKET is unset; the spike task
                               sets it to the dev stack's superuser socket
  SPIKE_SVID_CERT_FILE, SPIKE_SVID_KEY_FILE, SPIKE_SVID_BUNDLE_FILE
                               take the SVID from these files instead (all three)
  SPIKE_TRUST_ROOT_PILOT, SPIKE_TRUST_ROOT_NEXUS
                               trust domains of Pilot's roles and of Nexus (spike.ist)
  SPIKE_HTTP_CLIENT_TIMEOUT    per-request deadline (default 60s)
  SPIKE_SPIFFE_SOURCE_TIMEOUT  how long to wait for the SVID (default 30s)
  SPIKE_PILOT_RECOVERY_DIR     where operator recover writes (default ~/.spike/recover)

Exit codes: 0 ok, 1 other failure, 2 usage, 3 not found, 4 unauthorized or no identity,
5 Nexus refused the input, 6 Nexus not ready or unreachable, 7 configuration or a local file.`;

const root: CommandGroup = {
  name: "spike",
  summary: `SPIKE Pilot ${VERSION}: manage secrets, policies and the root key of SPIKE Nexus`,
  version: VERSION,
  footer: ENVIRONMENT,
  commands: [
    secretCommands,
    policyCommands,
    cipherCommands,
    operatorCommands,
    statusCommand,
    runCommand,
    completionCommand(() => root),
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
