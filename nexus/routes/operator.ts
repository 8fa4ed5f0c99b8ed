/**
 * Break-the-glass: recover hands every share to the pilot recover role, for
 * offline safekeeping; restore takes them back one per call from the pilot
 * restore role and, at the threshold, brings the root key back (checked
 * against the key-check record). A backend without Keepers (memory) has no
 * shares: 400.
 *
 * @module
 */

import { badRequest, notReady } from "../../lib/api/errors.ts";
import {
  parseRestoreRequest,
  type RecoverResponse,
  type RestoreResponse,
  shareToWire,
} from "../../lib/api/rootkey.ts";
import { MAX_SHARES, shareIndex } from "../../lib/crypto/shamir.ts";
import type { RouteRequest } from "../../lib/http/dispatch.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/** The operator route handlers. */
export function operatorHandlers(ctx: NexusContext): RouteGroup<"operator"> {
  const read = (request: RouteRequest<string>) => {
    if (!ctx.config.profile.keepers) throw badRequest("a backend without Keepers has no shares");
    return request.json();
  };

  return {
    "operator.recover": nexusRoute({
      read,
      rule: () => ({ role: "pilot-recover" }),
      act: async (_, request) => {
        if (ctx.state.status !== "ready") throw notReady();
        // The shares of the set in force; during a rekey they are about to be replaced.
        if ((await ctx.state.readKeeperSet()).next) throw notReady();
        const shares = await ctx.state.shares();
        const response: RecoverResponse = {
          shards: Object.fromEntries(shares.map((s) => [String(shareIndex(s)), shareToWire(s)])),
        };
        for (const s of shares) s.fill(0);
        ctx.log.warn("recovery shares handed out", { caller: request.peer.toString() });
        return { json: response };
      },
    }),

    "operator.restore": nexusRoute({
      read,
      rule: () => ({ role: "pilot-restore" }),
      act: async (body, request) => {
        const { id, share } = parseRestoreRequest(body);
        if (id > MAX_SHARES) throw badRequest('"id" is above the number of shares');
        request.note("shareIndex", id);
        const step = await ctx.restore.offer(id, share);
        if (step.outcome === "rejected") {
          ctx.log.error("restore rejected: the shares do not give the root key; start again", {
            reason: step.reason,
          });
          throw badRequest("the shares do not give the root key");
        }
        if (step.outcome === "retired") {
          ctx.log.error("restore refused a share of a retired root key", {
            retiredGeneration: step.generation,
            hint: "use the recovery files made after the last rotation",
          });
          const refused: RestoreResponse = {
            collected: step.collected,
            remaining: step.remaining,
            restored: false,
            retiredGeneration: step.generation,
          };
          return { json: refused };
        }
        if (step.outcome === "replaced") {
          ctx.log.error("restore refused a share of a Keeper set a rekey replaced", {
            hint: "use the recovery files made after the last rekey",
          });
          const refused: RestoreResponse = {
            collected: step.collected,
            remaining: step.remaining,
            restored: false,
            replacedByRekey: true,
          };
          return { json: refused };
        }
        if (step.outcome === "collecting") {
          const { collected, remaining } = step;
          const progress: RestoreResponse = { collected, remaining, restored: false };
          return { json: progress };
        }
        if (step.outcome === "restored") {
          ctx.log.notice("root key restored by an operator; serving");
        }
        const done: RestoreResponse = { collected: step.collected, remaining: 0, restored: true };
        return { json: done };
      },
    }),
  };
}
