/**
 * Assembles Nexus's HTTP surface: which routes exist for the backend, the
 * readiness gate, and the mTLS server. Any verified SPIFFE peer may connect
 * (as upstream); every route authorizes its callers itself.
 *
 * @module
 */

import { type ApiError, notReady } from "../lib/api/errors.ts";
import { NEXUS_ROUTES, NexusPath, type NexusRouteName } from "../lib/api/routes.ts";
import { createAuditTrail } from "../lib/audit.ts";
import { createDispatcher, type RouteHandler } from "../lib/http/dispatch.ts";
import type { X509Source } from "../lib/spiffe/source.ts";
import { authorizeAny } from "../lib/tls/authorize.ts";
import { createMtlsServer, type MtlsServer } from "../lib/tls/server.ts";
import type { NexusContext } from "./context.ts";
import { bootstrapHandlers } from "./routes/bootstrap.ts";
import { cipherHandlers } from "./routes/cipher.ts";
import { operatorHandlers } from "./routes/operator.ts";
import { policyHandlers } from "./routes/policies.ts";
import { secretHandlers } from "./routes/secrets.ts";

/**
 * Every route's handler. The type makes a route without a handler a compile
 * error; which routes a backend serves is decided by {@link servedRoutes}.
 */
export function nexusHandlers(
  ctx: NexusContext,
): Record<NexusRouteName, RouteHandler<NexusRouteName>> {
  return {
    ...bootstrapHandlers(ctx),
    ...operatorHandlers(ctx),
    ...secretHandlers(ctx),
    ...policyHandlers(ctx),
    ...cipherHandlers(ctx),
  };
}

/** The lite backend stores nothing: it serves only the root-key and cipher routes (as upstream). */
const LITE_ROUTES = new Set<NexusRouteName>([
  "bootstrap.verify",
  "bootstrap.state",
  "operator.recover",
  "operator.restore",
  "cipher.encrypt",
  "cipher.decrypt",
]);

/** The routes a backend serves; the others are answered like unknown routes (400). */
export function servedRoutes(backend: NexusContext["config"]["backend"]) {
  return NEXUS_ROUTES.filter((r) => backend !== "lite" || LITE_ROUTES.has(r.name));
}

/** Answers 503 until the root key is known, except where the key is being brought back. */
export function readinessGate(ctx: NexusContext): (path: string) => ApiError | undefined {
  return (path) => {
    const status = ctx.state.status;
    if (status === "ready") return undefined;
    if (
      path === NexusPath.operatorRecover || path === NexusPath.operatorRestore ||
      path === NexusPath.bootstrapState
    ) {
      return undefined;
    }
    if (path === NexusPath.bootstrapVerify) {
      if (status === "pending") return undefined;
      ctx.keepers?.wake(); // Bootstrap has just handed out shares: look now
    }
    return notReady();
  };
}

/** Builds the Nexus mTLS server (not yet listening). */
export function createNexusServer(ctx: NexusContext, source: X509Source): MtlsServer {
  const handlers = nexusHandlers(ctx);
  const routes = servedRoutes(ctx.config.backend);
  const audit = createAuditTrail("nexus");
  return createMtlsServer({
    source,
    authorizer: authorizeAny(),
    handler: createDispatcher({
      routes,
      handlers,
      gate: readinessGate(ctx),
      maxBodyBytes: ctx.config.maxBodyBytes,
      onComplete: audit,
      onError: (e, c) =>
        ctx.log.error("request failed", { trail: c.trail, route: c.route, error: String(e) }),
    }),
    onRefused: (reason, peer) => ctx.log.warn("connection refused", { reason, peer }),
    onError: (e) => ctx.log.error("server error", { error: e.message }),
  });
}
