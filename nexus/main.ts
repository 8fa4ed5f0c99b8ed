/**
 * SPIKE Nexus: the secrets store. Holds the root key in memory only, gets it
 * back from the Keepers by itself after a restart, and serves the mTLS API.
 *
 * @module
 */

import { KeeperClient } from "../lib/client/keeper.ts";
import { MIGRATE_COMMAND } from "../lib/config/migrate.ts";
import { hostOf, requireAccess } from "../lib/config/permissions.ts";
import { createLogger } from "../lib/log/log.ts";
import { identityFor, onShutdown, requireListen, runProgram } from "../lib/program/program.ts";
import { RoleSet } from "../lib/identity/roles.ts";
import { authorizeMatching } from "../lib/tls/authorize.ts";
import { createMtlsAgent } from "../lib/tls/client.ts";
import { loadNexusConfig } from "./config.ts";
import type { NexusContext } from "./context.ts";
import { createNexusServer } from "./server.ts";
import { KeeperLink } from "./state/keepers.ts";
import { Policies } from "./state/policies.ts";
import { RestoreCollector } from "./state/restore.ts";
import { Secrets } from "./state/secrets.ts";
import { RootKeyState } from "./state/rootkey.ts";
import { openStore, requireStoreAccess } from "./store/open.ts";

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
  for (const keeper of config.keepers) {
    requireAccess("SPIKE_NEXUS_KEEPER_PEERS", { kind: "net", host: hostOf(keeper.url) });
  }
  const source = await identityFor("nexus", log);
  const store = await openStore(config, {
    onConnectionLost: (e) => log.warn("database connection lost", { error: e.message }),
    onAvailability: (up, reason) =>
      up
        ? log.notice("database reachable")
        : log.error("database unreachable; requests answer 503 until it is back", { reason }),
    onWaiting: (reason, maxDelayMs) =>
      log.warn("database unreachable at start; waiting for it", {
        reason,
        retryEverySecondsAtMost: maxDelayMs / 1000,
      }),
  });
  const state = new RootKeyState(config.threshold, config.shares, store);
  const agent = !config.profile.keepers ? undefined : createMtlsAgent({
    source,
    authorizer: authorizeMatching((id) => roles.has(id, "keeper"), "a SPIKE Keeper ID"),
  });
  const keepers = agent && new KeeperLink({
    state,
    keepers: config.keepers,
    client: new KeeperClient(agent),
    log,
    updateIntervalMs: config.keeperUpdateIntervalMs,
  });
  if (!config.profile.keepers) {
    state.useRandomKey();
    log.warn("in-memory mode: no SPIKE Keepers, nothing persisted; not for production");
  }
  const ctx: NexusContext = {
    config,
    state,
    roles,
    store,
    keepers,
    log,
    secrets: new Secrets(store, () => state.key("secrets"), () => config.maxSecretVersions),
    policies: new Policies(store, () => state.key("policies")),
    restore: new RestoreCollector(state),
  };
  const server = createNexusServer(ctx, source);
  const { port } = await server.listen(config.listen.port, config.listen.hostname);
  log.notice("listening", {
    listen: `${config.listen.hostname}:${port}`,
    backend: config.backend,
    spiffeId: source.getX509Svid().id.toString(),
  });
  keepers?.start();
  onShutdown(async () => {
    keepers?.stop();
    await server.close();
    agent?.close();
    await store.close();
    source.close();
  });
});
