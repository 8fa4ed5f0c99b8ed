/**
 * `POST /v1/operator/rotate`: a new root key, every record re-sealed under it
 * online, the new shares handed to the Keepers, the old key retired
 * (`nexus/state/rotation.ts`). The superuser only: it changes what every
 * recovery file is worth, so no policy grants it. A backend without Keepers
 * (memory) has no key to rotate: 400. `POST /v1/operator/rekey`: new shares
 * of the same key for a new Keeper set (`nexus/state/rekey.ts`), by the same
 * rule; a plan that cannot be carried out is a 400 and changes nothing.
 *
 * @module
 */

import { badRequest, notReady } from "../../lib/api/errors.ts";
import {
  parseRekeyRequest,
  parseRotateRequest,
  type RekeyRefusal,
  type RekeyResponse,
  type RotateResponse,
} from "../../lib/api/rotation.ts";
import type { NexusContext } from "../context.ts";
import { KeeperSetError } from "../state/keeper_set.ts";
import { RekeyWaiting } from "../state/rekey.ts";
import { RotationWaiting } from "../state/rotation.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/** How long a rotate call waits for the rotation before answering `done: false`. */
const ANSWER_WITHIN_MS = 20_000;

/** The root-key route handlers. */
export function rootkeyHandlers(ctx: NexusContext): RouteGroup<"rootkey"> {
  return {
    "rootkey.rotate": nexusRoute({
      read: async (request) => parseRotateRequest(await request.json()),
      rule: () => ({ role: "pilot-superuser" }),
      act: async ({ generation }, request) => {
        const rotation = ctx.rotation;
        if (!rotation) throw badRequest("a backend without Keepers has no root key to rotate");
        if (generation === undefined) {
          ctx.log.warn("root key rotation requested", { caller: request.peer.toString() });
        }
        const run = rotation.begin(generation);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((r) =>
          timer = setTimeout(() => r("late"), ANSWER_WITHIN_MS)
        );
        try {
          const result = await Promise.race([run, late]);
          if (result !== "late") return { json: result satisfies RotateResponse };
          // Still running: it goes on in this process; the client asks again.
          run.catch(() => rotation.resumeInBackground());
          const read = await ctx.state.readRecord();
          const record = read!.record;
          const answer: RotateResponse = {
            from: record.retiring?.gen ?? record.current,
            to: record.next ?? record.current,
            state: record.state,
            done: false,
            resealed: 0,
          };
          return { json: answer };
        } catch (e) {
          if (e instanceof KeeperSetError) throw badRequest(e.message);
          if (e instanceof RotationWaiting) {
            ctx.log.warn("root key rotation waits for Keepers", { reason: e.message });
            rotation.resumeInBackground();
            throw notReady();
          }
          throw e;
        } finally {
          clearTimeout(timer);
        }
      },
    }),

    "rootkey.rekey": nexusRoute({
      read: async (request) => parseRekeyRequest(await request.json()),
      rule: () => ({ role: "pilot-superuser" }),
      act: async (plan, request) => {
        const rekey = ctx.rekey;
        if (!rekey) throw badRequest("a backend without Keepers has no shares to rekey");
        ctx.log.warn("rekey requested", {
          caller: request.peer.toString(),
          shares: plan.shares,
          threshold: plan.threshold,
        });
        try {
          const done = await rekey.begin(plan);
          return { json: done satisfies RekeyResponse };
        } catch (e) {
          if (e instanceof KeeperSetError) {
            // Nothing changed. Error bodies carry codes only; this one also says why.
            ctx.log.warn("rekey refused; nothing changed", { reason: e.message });
            const refused: RekeyRefusal = {
              done: false,
              threshold: 0,
              keepers: null,
              notForgotten: null,
              err: "api_bad_request",
              refused: e.message,
            };
            return { status: 400, json: refused };
          }
          if (e instanceof RekeyWaiting) {
            // Started: it rolls forward by itself when the Keepers answer.
            ctx.log.warn("rekey waits for Keepers", { reason: e.message });
            rekey.resumeInBackground();
            throw notReady();
          }
          throw e;
        }
      },
    }),
  };
}
