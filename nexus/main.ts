/**
 * SPIKE Nexus: the secrets store. Holds the root key in memory only, gets it
 * back from the Keepers by itself after a restart, and serves the mTLS API.
 *
 * @module
 */

import { MIGRATE_COMMAND } from "../lib/config/migrate.ts";
import { hostOf, requireAccess } from "../lib/config/permissions.ts";
import { createLogger } from "../lib/log/log.ts";
import { AUDIT_FILE_ENV, AuditFile } from "../lib/log/audit.ts";
import { ConfigError } from "../lib/config/env.ts";
import { errorMessage } from "../lib/std/errors.ts";
import { requireListen, runProgram } from "../lib/program/program.ts";
import { RoleSet } from "../lib/identity/roles.ts";
import { loadNexusConfig } from "./config.ts";
import { requireStoreAccess } from "./store/open.ts";

if (Deno.args[0] === MIGRATE_COMMAND) {
  // A one-off copy of a single-node store into PostgreSQL: no identity, no listener, no Keepers.
  const { runMigrate } = await import("./migrate.ts");
  await runProgram("nexus", () => runMigrate(Deno.args.slice(1)));
  Deno.exit(0);
}

await runProgram("nexus", async () => {
  const log = createLogger("nexus");
  const config = loadNexusConfig();
  const roles = RoleSet.fromEnv();
  requireStoreAccess(config);
  requireListen("SPIKE_NEXUS_TLS_PORT", config.listen);
  if (config.metrics) requireListen("SPIKE_NEXUS_METRICS_PORT", config.metrics);
  if (config.auditFile) {
    requireAccess(
      AUDIT_FILE_ENV,
      { kind: "read", path: config.auditFile },
      { kind: "write", path: config.auditFile },
    );
  }
  // Opened before anything is served: no request may go unrecorded.
  const auditFile = config.auditFile === undefined
    ? undefined
    : await AuditFile.open(config.auditFile).catch((e) => {
      throw new ConfigError(`${AUDIT_FILE_ENV} cannot be opened for appending: ${errorMessage(e)}`);
    });
  for (const keeper of config.keepers) {
    requireAccess("SPIKE_NEXUS_KEEPER_PEERS", { kind: "net", host: hostOf(keeper.url) });
  }
  // Loaded now that the settings are known good (see start.ts).
  const { startNexus } = await import("./start.ts");
  await startNexus(config, roles, log, auditFile);
});
