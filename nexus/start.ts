/**
 * Nexus once its settings are known good: identity, store, root-key state,
 * Keepers, the API listener and the metrics listener. Loaded by `main.ts` only
 * after the configuration is checked, so that a bad setting stops Nexus before
 * it pays for TLS, gRPC, X.509 and the database client.
 *
 * @module
 */

import { join } from "node:path";
import { KeeperClient } from "../lib/client/keeper.ts";
import type { RoleSet } from "../lib/identity/roles.ts";
import type { AuditFile } from "../lib/log/audit.ts";
import type { Logger } from "../lib/log/log.ts";
import { identityFor, onShutdown } from "../lib/program/program.ts";
import { adaptMatcher } from "../lib/tls/authorize.ts";
import { createMtlsAgent } from "../lib/tls/client.ts";
import type { NexusConfig } from "./config.ts";
import type { NexusContext } from "./context.ts";
import { instrumentStore, NexusMetrics } from "./metrics/nexus.ts";
import { serveMetrics } from "./metrics/server.ts";
import { keyGeneration } from "./routes/status.ts";
import { createNexusServer } from "./server.ts";
import { DEFAULT_PROBE_TIMEOUT_MS, KeeperProbe } from "./state/keeper_probe.ts";
import { KeeperLink } from "./state/keepers.ts";
import { Policies } from "./state/policies.ts";
import { RestoreCollector } from "./state/restore.ts";
import { RootKeyState } from "./state/rootkey.ts";
import { Rotation } from "./state/rotation.ts";
import { Rekey } from "./state/rekey.ts";
import { Secrets } from "./state/secrets.ts";
import { guardStoreFile } from "./store/file_guard.ts";
import { StoreTimeoutError, withDeadline } from "./store/deadline.ts";
import { Throttle } from "../lib/log/throttle.ts";
import { openStore, storeFileOf } from "./store/open.ts";

/** Starts Nexus with a checked configuration; resolves once it listens. */
export async function startNexus(
  config: NexusConfig,
  roles: RoleSet,
  log: Logger,
  auditFile: AuditFile | undefined,
): Promise<void> {
  const source = await identityFor("nexus", log);
  const agent = !config.profile.keepers ? undefined : createMtlsAgent({
    source,
    authorizer: adaptMatcher((id) => roles.has(id, "keeper"), "a SPIKE Keeper ID"),
  });
  const keeperProbe = agent &&
    new KeeperProbe(config.keepers, new KeeperClient(agent, DEFAULT_PROBE_TIMEOUT_MS));
  const opened = await openStore(config, {
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
  // The metrics time the store the root-key state reads through, and read that state at scrapes.
  const scraped: { state?: RootKeyState } = {};
  const metrics = config.metrics && new NexusMetrics({
    backend: config.backend,
    keyStatus: () => scraped.state?.status ?? "waiting",
    keyGeneration: () => scraped.state ? keyGeneration({ state: scraped.state }) : 0,
    learnKey: async () => await scraped.state?.learnLatest(),
    keeperProbe,
  });
  // A deleted or replaced data folder must not swallow acknowledged writes.
  const file = storeFileOf(config.backend);
  // A disk that stops answering must not hold requests forever (postgres has its own deadline).
  const stalled = new Throttle<StoreTimeoutError>(
    10_000,
    (e, repeated) =>
      log.error("store operation timed out; answering 503", {
        operation: e.operation,
        timeoutMs: e.timeoutMs,
        hint: "the disk under the data folder is not answering",
        ...(repeated ? { repeated } : {}),
      }),
  );
  const bounded = file
    ? withDeadline(opened, config.storeTimeoutMs, (e) => stalled.note(e))
    : opened;
  const guarded = file ? guardStoreFile(bounded, join(config.dataDir, file)) : bounded;
  const store = metrics ? instrumentStore(guarded, metrics) : guarded;
  const state = new RootKeyState(config.threshold, config.shares, store, config.keepers);
  scraped.state = state;
  if (metrics) state.onReady(() => metrics.keyReady());
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
  const secrets = new Secrets(
    store,
    () => state.sealing("secrets"),
    () => config.maxSecretVersions,
    state,
  );
  const policies = new Policies(store, () => state.sealing("policies"), state);
  const rotation = keepers &&
    new Rotation({ state, store, secrets, policies, keepers, log });
  // A rotation a crash (or another replica) left unfinished is finished once the key is known.
  if (rotation) {
    state.onReady(() => rotation.resumeInBackground());
    // A rotation another replica left unfinished while this one stays up (it was killed).
    rotation.watch(config.keeperUpdateIntervalMs);
  }
  const rekey = keepers &&
    new Rekey({ state, store, keepers, configured: config.keepers, log });
  // Likewise a rekey: it rolls forward once the key is known.
  if (rekey) state.onReady(() => rekey.resumeInBackground());
  const ctx: NexusContext = {
    config,
    state,
    roles,
    store,
    keepers,
    keeperProbe,
    metrics,
    auditFile,
    log,
    secrets,
    policies,
    rotation,
    rekey,
    restore: new RestoreCollector(state),
  };
  const server = createNexusServer(ctx, source);
  const { port } = await server.listen(config.listen.port, config.listen.hostname);
  log.notice("listening", {
    listen: `${config.listen.hostname}:${port}`,
    backend: config.backend,
    spiffeId: source.getX509Svid().id.toString(),
  });
  const metricsServer = config.metrics && metrics &&
    await serveMetrics(
      config.metrics.hostname,
      config.metrics.port,
      () => metrics.expose(),
      (e) => log.error("metrics failed", { error: String(e) }),
    );
  if (metricsServer && config.metrics) {
    log.notice("metrics listening", {
      listen: `${config.metrics.hostname}:${metricsServer.port}`,
      path: "/metrics",
    });
  }
  keepers?.start();
  onShutdown(async () => {
    rotation?.stop();
    rekey?.stop();
    keepers?.stop();
    await metricsServer?.close();
    await server.close();
    await auditFile?.close();
    agent?.close();
    await store.close();
    source.close();
  });
}
