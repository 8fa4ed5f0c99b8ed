/**
 * The guard every data route calls before acting: the superuser may do
 * anything, the lite workload only what the route allows it, anyone else
 * what a policy grants on the path. Policies are read fresh each time.
 *
 * @module
 */

import { unauthorized } from "../../lib/api/errors.ts";
import type { SpiffeId } from "../../lib/spiffe/id.ts";
import type { NexusContext } from "../context.ts";
import { type AccessRule, authorizeRequest } from "./policy.ts";

/** Reserved paths the policy rules of the non-secret routes refer to (upstream's names). */
export const SYSTEM_PATH = {
  acl: "spike/system/acl",
  secretList: "spike/system/secret",
  cipher: "spike/system/cipher/exec",
} as const;

/** Throws 401 unless `peer` may act under `rule`. */
export async function guard(ctx: NexusContext, peer: SpiffeId, rule: AccessRule): Promise<void> {
  const allowed = await authorizeRequest(ctx.roles, peer, async () => {
    try {
      return await ctx.policies.all();
    } catch (e) {
      ctx.log.error("could not load policies; denying", { error: String(e) });
      throw e;
    }
  }, rule);
  if (!allowed) throw unauthorized();
}
