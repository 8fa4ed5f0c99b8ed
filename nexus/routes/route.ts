/**
 * The shape of a Nexus route (`read → access rule → act`, see
 * `lib/http/dispatch.ts`) and of the handler groups the route modules export.
 *
 * @module
 */

import type { Permission } from "../../lib/api/policies.ts";
import type { NexusRouteName } from "../../lib/api/routes.ts";
import type { Route } from "../../lib/http/dispatch.ts";
import type { AccessRule } from "../auth/policy.ts";
import type { NexusRule } from "../auth/guard.ts";

/** A Nexus route with its input type (and the type of its early read, if it has one). */
// deno-lint-ignore no-explicit-any
export type NexusRoute<Input = any, Early = any> = Route<NexusRouteName, NexusRule, Input, Early>;

/** The routes of one group of the route table (`secret`, `policy`, ...), by name. */
export type RouteGroup<Group extends string> = {
  readonly [K in Extract<NexusRouteName, `${Group}.${string}`>]: NexusRoute;
};

/** Builds a Nexus route, inferring its input type from `read` (and its early read's). */
export function nexusRoute<Input, Early = never>(
  route: NexusRoute<Input, Early>,
): NexusRoute<Input, Early> {
  return route;
}

/** A rule that policies decide and the lite workload never passes. */
export function policyRule(path: string, ...wanted: Permission[]): AccessRule {
  return { path, wanted, lite: "deny" };
}
