/**
 * The guard the dispatcher runs on every Nexus route's access rule, between
 * its read and its act: a role rule admits exactly the callers with that
 * role; a member rule admits any ID of SPIKE's trust domains; a policy rule
 * admits the superuser, the lite workload when the rule
 * allows it, and anyone a policy grants on the path. Policies are read fresh
 * each time.
 *
 * @module
 */

import { unauthorized } from "../../lib/api/errors.ts";
import { RESERVED_PATHS } from "../../lib/api/patterns.ts";
import type { Guard } from "../../lib/http/dispatch.ts";
import type { Logger } from "../../lib/log/log.ts";
import type { Role, RoleSet } from "../../lib/identity/roles.ts";
import { type AccessRule, authorizeRequest, type StoredPolicy } from "./policy.ts";

const [acl, secretList, cipher] = RESERVED_PATHS;

/** The reserved paths the policy rules of the non-secret routes refer to, by what they guard. */
export const SYSTEM_PATH = { acl, secretList, cipher } as const;

/** A route that only one role may call (Bootstrap's and the operator's routes). */
export interface RoleRule {
  role: Role;
}

/**
 * A route any member of SPIKE's trust domains may call, with no role or
 * policy (status: it answers nothing secret).
 */
export interface MemberRule {
  member: true;
}

/** The access rule of a Nexus route. */
export type NexusRule = AccessRule | RoleRule | MemberRule;

/** What the guard needs: the role matchers, the policies, and a log for load failures. */
export interface GuardDeps {
  roles: Pick<RoleSet, "has" | "isMember">;
  /** Every stored policy, as the store holds them now. */
  policies: () => Promise<Iterable<StoredPolicy>>;
  log: Pick<Logger, "error">;
}

/** The guard of every Nexus route: resolves when `peer` may act under `rule`, else a 401. */
export function nexusGuard(deps: GuardDeps): Guard<NexusRule> {
  return async (peer, rule) => {
    const allowed = "member" in rule
      ? deps.roles.isMember(peer)
      : "role" in rule
      ? deps.roles.has(peer, rule.role)
      : await authorizeRequest(deps.roles, peer, async () => {
        try {
          return await deps.policies();
        } catch (e) {
          deps.log.error("could not load policies; denying", { error: String(e) });
          throw e;
        }
      }, rule);
    if (!allowed) throw unauthorized();
  };
}
