/**
 * The Keeper's two routes. Contribute stores the share Nexus or Bootstrap
 * sends; shard answers it to Nexus only. The TLS layer already admits only
 * those two roles; each route checks its own callers again.
 *
 * @module
 */

import { unauthorized } from "../lib/api/errors.ts";
import type { KeeperRouteName } from "../lib/api/routes.ts";
import { parseShareField, type ShardResponse, shareToWire } from "../lib/api/rootkey.ts";
import { defineRoute, type Guard, type Route } from "../lib/http/dispatch.ts";
import type { Role, RoleSet } from "../lib/identity/roles.ts";
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

/** What the audit line of a shard request says when the Keeper holds no share yet. */
export const NO_SHARE = "none yet";

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
      act: (_body, request) => {
        const share = slot.read();
        if (!share) {
          // Not a failure: a Keeper is empty until Nexus or Bootstrap gives it its share. The
          // wire keeps upstream's answer (400 with this body; ADR-0022 says 404, the code 400),
          // which Nexus reads as "no share yet"; the audit line says so instead of an error code.
          request.note("share", NO_SHARE);
          return Promise.resolve({ status: 400, json: { shard: null, Err: "api_bad_request" } });
        }
        const response: ShardResponse = { shard: shareToWire(share), Err: "" };
        share.fill(0);
        return Promise.resolve({ json: response });
      },
    }),
  };
}
