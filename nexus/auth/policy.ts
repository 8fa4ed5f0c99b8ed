/**
 * The access decision of every route that policies guard: the superuser may
 * do anything, the lite workload only what its route allows, anyone else
 * what some policy grants (patterns in `lib/api/patterns.ts`).
 *
 * @module
 */

import type { Permission } from "../../lib/api/policies.ts";
import { isPreciseIdentity, isReservedPath, tryCompile } from "../../lib/api/patterns.ts";
import type { RoleSet } from "../../lib/identity/roles.ts";
import type { SpiffeId } from "../../lib/spiffe/id.ts";

/** A policy as Nexus keeps it. */
export interface StoredPolicy {
  name: string;
  spiffeIdPattern: string;
  pathPattern: string;
  permissions: Permission[];
  createdAt: Date;
  updatedAt: Date;
}

/** The access rule of one route (who may call what: the README's "Nexus API" table). */
export interface AccessRule {
  /** The path a policy must match: the request path, or a reserved system path. */
  path: string;
  /** Every permission the caller needs (`super` satisfies any). */
  wanted: Permission[];
  /** Whether a lite workload may call the route without a policy. */
  lite: "allow" | "deny";
}

function hasPermissions(have: readonly Permission[], wanted: readonly Permission[]): boolean {
  return have.includes("super") || wanted.every((w) => have.includes(w));
}

/**
 * Upstream's `CheckPolicyAccess`: true when any policy's SPIFFE ID pattern
 * matches `peer` anywhere, its path pattern matches `path` anywhere, it
 * describes `path` with a precise identity pattern when `path` is reserved,
 * and it holds `super` or every wanted permission. There is no deny and no
 * priority. A policy whose pattern does not compile never grants.
 */
export function policyGrants(
  policies: Iterable<StoredPolicy>,
  peer: string,
  path: string,
  wanted: Permission[],
): boolean {
  const reserved = isReservedPath(path);
  for (const policy of policies) {
    if (!hasPermissions(policy.permissions, wanted)) continue;
    const id = tryCompile(policy.spiffeIdPattern);
    if (id === null || !id.find(peer)) continue;
    const pathPattern = tryCompile(policy.pathPattern);
    if (pathPattern === null || !pathPattern.find(path)) continue;
    if (reserved && !(pathPattern.describes(path) && isPreciseIdentity(policy.spiffeIdPattern))) {
      continue;
    }
    return true;
  }
  return false;
}

/**
 * Decides whether `peer` may call a policy-guarded route: the Pilot superuser
 * always may (policies are not loaded); a lite workload may when the rule
 * allows it, and never by policy; anyone else needs a policy
 * ({@link policyGrants}), with policies loaded afresh for this request. A
 * failure to load policies denies.
 *
 * @param roles the role matchers; any object with {@link RoleSet.has} will do.
 * @param policies loads every stored policy.
 */
export async function authorizeRequest(
  roles: Pick<RoleSet, "has">,
  peer: SpiffeId,
  policies: () => Promise<Iterable<StoredPolicy>>,
  rule: AccessRule,
): Promise<boolean> {
  if (roles.has(peer, "pilot-superuser")) return true;
  if (roles.has(peer, "lite-workload")) return rule.lite === "allow";
  try {
    return policyGrants(await policies(), peer.toString(), rule.path, rule.wanted);
  } catch {
    return false;
  }
}
