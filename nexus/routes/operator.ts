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
import { shareIndex } from "../../lib/crypto/shamir.ts";
import type { RouteRequest } from "../../lib/http/dispatch.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/** The operator route handlers. */
export function operatorHandlers(ctx: NexusContext): RouteGroup<"operator"> {
  // Shares collected by restore calls, until the threshold is reached.
  const collected = new Map<number, Uint8Array>();
  let restoreQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = restoreQueue.then(fn, fn);
    restoreQueue = run.catch(() => {});
    return run;
  };
  const threshold = ctx.config.threshold;
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
        if (id > ctx.config.shares) throw badRequest('"id" is above the number of shares');
        request.note("shareIndex", id);
        return await serially(async () => {
          if (ctx.state.status === "ready") {
            share.fill(0);
            const done: RestoreResponse = { collected: threshold, remaining: 0, restored: true };
            return { json: done };
          }
          if (!collected.has(id)) collected.set(id, share);
          else share.fill(0);
          if (collected.size >= threshold) {
            const result = await ctx.state.adopt(collected, "restore");
            const count = collected.size;
            for (const s of collected.values()) s.fill(0);
            collected.clear();
            if (result.outcome !== "ready") {
              ctx.log.error("restore rejected: the shares do not give the root key; start again", {
                reason: result.outcome === "rejected" ? result.reason : result.outcome,
              });
              throw badRequest("the shares do not give the root key");
            }
            ctx.log.notice("root key restored by an operator; serving");
            const done: RestoreResponse = { collected: count, remaining: 0, restored: true };
            return { json: done };
          }
          const progress: RestoreResponse = {
            collected: collected.size,
            remaining: threshold - collected.size,
            restored: false,
          };
          return { json: progress };
        });
      },
    }),
  };
}
