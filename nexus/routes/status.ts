/**
 * `POST /v1/status`: readiness, key generation, backend, Keepers and version,
 * for any member of SPIKE's trust domains. Served in every key state (the
 * route table says `needsKey: none`), since "why is Nexus not ready?" is the
 * question it answers. Nothing secret is in it.
 *
 * @module
 */

import type { StatusResponse } from "../../lib/api/status.ts";
import { VERSION } from "../../lib/program/version.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/**
 * The generation of the root key in use (new records are sealed under it):
 * 1 for the key Bootstrap made, one more after each rotation; 0 before a key is known.
 */
export function keyGeneration(ctx: Pick<NexusContext, "state">): number {
  return ctx.state.generation;
}

/** What Nexus reports about itself now (the Keepers are asked, within the probe's deadline). */
export async function currentStatus(ctx: NexusContext): Promise<StatusResponse> {
  // Another replica may have rotated the key: report the generation the store names now.
  await ctx.state.learnLatest();
  const keepers = ctx.keeperProbe ? await ctx.keeperProbe.check() : [];
  return {
    ready: ctx.state.status === "ready",
    keyState: ctx.state.status,
    keyGeneration: keyGeneration(ctx),
    backend: ctx.config.backend,
    keepers,
    threshold: ctx.config.profile.keepers ? ctx.state.threshold : 0,
    version: VERSION,
  };
}

/** The status route handler. */
export function statusHandlers(ctx: NexusContext): RouteGroup<"status"> {
  return {
    "status.get": nexusRoute({
      // The body is read (and bounded) but nothing in it is used.
      read: (request) => request.json(),
      rule: () => ({ member: true }),
      act: async () => ({ json: await currentStatus(ctx) }),
    }),
  };
}
