/**
 * Assembles Nexus's HTTP surface: which routes exist for the backend, the
 * readiness gate, the guard, and the mTLS server. Any verified SPIFFE peer
 * may connect (as upstream); the dispatcher guards every route on its rule.
 * The facts about routes (lite? needs the key?) are in `lib/api/routes.ts`.
 *
 * @module
 */

import { type ApiError, notReady } from "../lib/api/errors.ts";
import { NEXUS_ROUTES, type NexusRouteName, type RouteSpec } from "../lib/api/routes.ts";
import { auditLine, createAuditTrail } from "../lib/log/audit.ts";
import { createDispatcher, type DurableAudit } from "../lib/http/dispatch.ts";
import type { X509Source } from "../lib/spiffe/source.ts";
import { authorizeAny } from "../lib/tls/authorize.ts";
import { refusalKind, Throttle } from "../lib/log/throttle.ts";
import { RateLimiter } from "../lib/http/ratelimit.ts";
import type { SpiffeId } from "../lib/spiffe/id.ts";
import { storeFault } from "./store/faults.ts";
import { createMtlsServer, type MtlsServer } from "../lib/tls/server.ts";
import { nexusGuard } from "./auth/guard.ts";
import type { BackendProfile } from "./config.ts";
import type { NexusContext } from "./context.ts";
import { backupHandlers } from "./routes/backup.ts";
import { bootstrapHandlers } from "./routes/bootstrap.ts";
import { cipherHandlers } from "./routes/cipher.ts";
import { operatorHandlers } from "./routes/operator.ts";
import { policyHandlers } from "./routes/policies.ts";
import { rootkeyHandlers } from "./routes/rootkey.ts";
import type { NexusRoute } from "./routes/route.ts";
import { secretHandlers } from "./routes/secrets.ts";
import { statusHandlers } from "./routes/status.ts";

/**
 * Every route's handler. The type makes a route without a handler a compile
 * error; which routes a backend serves is decided by {@link servedRoutes}.
 */
export function nexusHandlers(ctx: NexusContext): Record<NexusRouteName, NexusRoute> {
  return {
    ...bootstrapHandlers(ctx),
    ...operatorHandlers(ctx),
    ...secretHandlers(ctx),
    ...policyHandlers(ctx),
    ...cipherHandlers(ctx),
    ...statusHandlers(ctx),
    ...backupHandlers(ctx),
    ...rootkeyHandlers(ctx),
  };
}

/** The routes a backend serves; the others are answered like unknown routes (400). */
export function servedRoutes(profile: BackendProfile) {
  return NEXUS_ROUTES.filter((r) => profile.routes === "all" || r.lite);
}

/**
 * Answers 503 until the root key is known, except on the routes that need
 * less (`needsKey` in the route table) while the key is being brought back.
 */
export function readinessGate(
  ctx: NexusContext,
): (route: RouteSpec | undefined) => ApiError | undefined {
  return (route) => {
    const status = ctx.state.status;
    if (status === "ready" || route?.needsKey === "none") return undefined;
    if (route?.needsKey === "pending") {
      if (status === "pending") return undefined;
      ctx.keepers?.wake(); // Bootstrap has just handed out shares: look now
    }
    return notReady();
  };
}

/** The guard of every route, fed from the context. */
export function contextGuard(ctx: NexusContext) {
  return nexusGuard({ roles: ctx.roles, policies: () => ctx.policies.all(), log: ctx.log });
}

/** The configured rate limits as a dispatcher hook, or none when no limit is set. */
function rateLimit(ctx: NexusContext): ((peer: SpiffeId, route: RouteSpec) => number) | undefined {
  const { readsPerSecond, writesPerSecond, exemptSuperuser } = ctx.config.rateLimits;
  if (!readsPerSecond && !writesPerSecond) return undefined;
  const reads = readsPerSecond ? new RateLimiter(readsPerSecond) : undefined;
  const writes = writesPerSecond ? new RateLimiter(writesPerSecond) : undefined;
  return (peer, route) => {
    if (exemptSuperuser && ctx.roles.has(peer, "pilot-superuser")) return 0;
    return (route.retrySafe ? reads : writes)?.take(peer.toString()) ?? 0;
  };
}

/** The durable audit of the context's audit file, if there is one. */
function durableAudit(ctx: NexusContext): DurableAudit | undefined {
  const file = ctx.auditFile;
  if (!file) return undefined;
  return {
    request: (c) => file.append(auditLine("nexus", c, "request")),
    response: (c) => file.append(auditLine("nexus", c, "response")),
  };
}

/** Builds the Nexus mTLS server (not yet listening). */
export function createNexusServer(ctx: NexusContext, source: X509Source): MtlsServer {
  const handlers = nexusHandlers(ctx);
  const routes = servedRoutes(ctx.config.profile);
  const audit = createAuditTrail("nexus");
  // An attack can refuse thousands of connections a second: one line per burst.
  const refused = new Throttle<{ reason: string; peer?: string }>(
    10_000,
    ({ reason, peer }, repeated) =>
      ctx.log.warn("connection refused", { reason, peer, ...(repeated ? { repeated } : {}) }),
    ({ reason }) => refusalKind(reason),
  );
  return createMtlsServer({
    ...ctx.config.listener,
    source,
    authorizer: authorizeAny(),
    handler: createDispatcher({
      routes,
      handlers,
      guard: contextGuard(ctx),
      gate: readinessGate(ctx),
      limit: rateLimit(ctx),
      maxBodyBytes: ctx.config.maxBodyBytes,
      audit: durableAudit(ctx),
      onComplete: (completion) => {
        audit(completion);
        ctx.metrics?.record(completion);
      },
      onError: (e, c) => {
        // A file-system fault gets its name in the line, for the operator's alerting.
        const fault = storeFault(e);
        ctx.log.error(fault ? `request failed: store ${fault.fault}` : "request failed", {
          trail: c.trail,
          route: c.route,
          error: String(e),
          ...(fault ? { hint: fault.hint } : {}),
        });
      },
    }),
    onRefused: (reason, peer) => refused.note({ reason, peer }),
    onError: (e) => ctx.log.error("server error", { error: e.message }),
  });
}
