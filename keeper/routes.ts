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
import type { RouteHandler } from "../lib/http/dispatch.ts";
import type { RoleSet } from "../lib/roles.ts";
import type { ShareSlot } from "./state.ts";

/** What the audit line of a shard request says when the Keeper holds no share yet. */
export const NO_SHARE = "none yet";

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
      if (!share) {
        // Not a failure: a Keeper is empty until Nexus or Bootstrap gives it its share. The
        // wire keeps upstream's answer (400 with this body; ADR-0022 says 404, the code 400),
        // which Nexus reads as "no share yet"; the audit line says so instead of an error code.
        request.note("share", NO_SHARE);
        return { status: 400, json: { shard: null, Err: "api_bad_request" } };
      }
      const response: ShardResponse = { shard: shareToWire(share), Err: "" };
      share.fill(0);
      return { json: response };
    },
  };
}
