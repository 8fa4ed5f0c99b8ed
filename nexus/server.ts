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
import { operatorHandlers } from "./routes/operator.ts";

/** The handlers Nexus has for its backend; a route without one is answered like an unknown one. */
export function nexusHandlers(
  ctx: NexusContext,
): Partial<Record<NexusRouteName, RouteHandler<NexusRouteName>>> {
  return { ...bootstrapHandlers(ctx), ...operatorHandlers(ctx) };
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
  const routes = NEXUS_ROUTES.filter((r) => handlers[r.name] !== undefined);
  const audit = createAuditTrail("nexus");
  return createMtlsServer({
    source,
    authorizer: authorizeAny(),
    handler: createDispatcher({
      routes,
      handlers: handlers as Record<NexusRouteName, RouteHandler<NexusRouteName>>,
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
