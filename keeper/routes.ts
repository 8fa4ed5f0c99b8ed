/**
 * The Keeper's two routes. Contribute stores the share Nexus or Bootstrap
 * sends; shard answers it to Nexus only. The TLS layer already admits only
 * those two roles; each route checks its own callers again.
 *
 * @module
 */

import { badRequest, unauthorized } from "../lib/api/errors.ts";
import type { KeeperRouteName } from "../lib/api/routes.ts";
import { parseShareField, type ShardResponse, shareToWire } from "../lib/api/rootkey.ts";
import { defineRoute, type Guard, type Route } from "../lib/http/dispatch.ts";
import type { Role, RoleSet } from "../lib/roles.ts";
import type { ShareSlot } from "./state.ts";

/** A Keeper route's access rule: the roles, any one of which may call it. */
export type KeeperRule = readonly Role[];

/** The guard of every Keeper route: 401 unless the caller has one of the rule's roles. */
export function keeperGuard(roles: RoleSet): Guard<KeeperRule> {
  return (peer, rule) => {
    if (!roles.hasAny(peer, ...rule)) return Promise.reject(unauthorized());
    return Promise.resolve();
  };
}

/** The handlers of every Keeper route. */
export function keeperHandlers(
  slot: ShareSlot,
  // deno-lint-ignore no-explicit-any
): { [K in KeeperRouteName]: Route<KeeperRouteName, KeeperRule, any> } {
  return {
    "keeper.contribute": defineRoute({
      read: (request) => request.json(),
      rule: () => ["nexus", "bootstrap"],
      act: (body) => {
        slot.store(parseShareField(body));
        return Promise.resolve({ json: {} });
      },
    }),
    "keeper.shard": defineRoute({
      read: (request) => request.json(),
      rule: () => ["nexus"],
      act: () => {
        const share = slot.read();
        // An empty Keeper answers 400, as upstream (ADR-0022 says 404; the code says 400).
        if (!share) throw badRequest("no share held");
        const response: ShardResponse = { shard: shareToWire(share), Err: "" };
        share.fill(0);
        return Promise.resolve({ json: response });
      },
    }),
  };
}
