/**
 * SPIKE Keeper: holds one Shamir share of Nexus's root key, in memory only.
 * Configured by `SPIKE_KEEPER_TLS_PORT` (default `:8443`) and its SPIFFE
 * identity; only Nexus and Bootstrap may connect.
 *
 * @module
 */

import { envString } from "../lib/config/env.ts";
import { listenerLimitsFromEnv } from "../lib/config/http_server.ts";
import { refusalKind, Throttle } from "../lib/log/throttle.ts";
import { PROGRAMS } from "../lib/config/programs.ts";
import { createLogger } from "../lib/log/log.ts";
import {
  identityFor,
  onShutdown,
  parseListenAddress,
  requireListen,
  runProgram,
} from "../lib/program/program.ts";
import { RoleSet } from "../lib/identity/roles.ts";

await runProgram("keeper", async () => {
  const log = createLogger("keeper");
  const roles = RoleSet.fromEnv();
  const { env, default: fallback } = PROGRAMS.keeper.listen!;
  const listen = parseListenAddress(env, envString(env, fallback));
  requireListen(env, listen);
  const limits = listenerLimitsFromEnv();
  const source = await identityFor("keeper", log);
  // The server's modules are loaded once the settings are known good: a bad one (the Workload
  // API's included) stops the Keeper before it pays for TLS and X.509.
  const [
    { KEEPER_ROUTES },
    { createDispatcher },
    { adaptMatcher },
    { createMtlsServer },
    { keeperAuditTrail },
    { keeperGuard, keeperHandlers },
    { ShareSlot },
  ] = await Promise.all([
    import("../lib/api/routes.ts"),
    import("../lib/http/dispatch.ts"),
    import("../lib/tls/authorize.ts"),
    import("../lib/tls/server.ts"),
    import("./audit.ts"),
    import("./routes.ts"),
    import("./state.ts"),
  ]);
  const slot = new ShareSlot();
  // An attack can refuse thousands of connections a second: one line per burst.
  const refused = new Throttle<{ reason: string; peer?: string }>(
    10_000,
    ({ reason, peer }, repeated) =>
      log.warn("connection refused", { reason, peer, ...(repeated ? { repeated } : {}) }),
    ({ reason }) => refusalKind(reason),
  );
  const server = createMtlsServer({
    ...limits,
    source,
    authorizer: adaptMatcher(
      (id) => roles.hasAny(id, "nexus", "bootstrap"),
      "a SPIKE Nexus or Bootstrap ID",
    ),
    handler: createDispatcher({
      routes: KEEPER_ROUTES,
      handlers: keeperHandlers(slot),
      guard: keeperGuard(roles),
      onComplete: keeperAuditTrail(),
      onError: (e, c) => log.error("request failed", { trail: c.trail, error: String(e) }),
    }),
    onRefused: (reason, peer) => refused.note({ reason, peer }),
    onError: (e) => log.error("server error", { error: e.message }),
  });
  const { port } = await server.listen(listen.port, listen.hostname);
  log.notice("ready", {
    listen: `${listen.hostname}:${port}`,
    spiffeId: source.getX509Svid().id.toString(),
  });
  onShutdown(async () => {
    await server.close();
    source.close();
    slot.clear();
  });
});
