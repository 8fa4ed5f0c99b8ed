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
import type { RouteHandler } from "../lib/http/dispatch.ts";
import type { RoleSet } from "../lib/roles.ts";
import type { ShareSlot } from "./state.ts";

/** The handlers of every Keeper route. */
export function keeperHandlers(
  slot: ShareSlot,
  roles: RoleSet,
): { [K in KeeperRouteName]: RouteHandler<KeeperRouteName> } {
  return {
    "keeper.contribute": async (request) => {
      const body = await request.json();
      if (!roles.hasAny(request.peer, "nexus", "bootstrap")) {
        throw unauthorized();
      }
      slot.store(parseShareField(body));
      return { json: {} };
    },
    "keeper.shard": async (request) => {
      await request.json();
      if (!roles.has(request.peer, "nexus")) throw unauthorized();
      const share = slot.read();
      // An empty Keeper answers 400, as upstream (ADR-0022 says 404; the code says 400).
      if (!share) throw badRequest("no share held");
      const response: ShardResponse = { shard: shareToWire(share), Err: "" };
      share.fill(0);
      return { json: response };
    },
  };
}
