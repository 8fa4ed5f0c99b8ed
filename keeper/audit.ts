/**
 * The Keeper's audit trail, quiet about the normal wait for a share: while
 * the Keeper is empty, Nexus asks for its share at every poll, and each
 * answer is "none yet". The first such answer is written; the repeats are
 * not, until something else happens (a share arrives, or another answer), so
 * the trail shows the state once instead of a 400 per poll.
 *
 * @module
 */

import { createAuditTrail } from "../lib/log/audit.ts";
import type { Completion } from "../lib/http/dispatch.ts";
import { NO_SHARE } from "./routes.ts";

/** A completion sink that writes audit lines, without repeated "no share yet" answers. */
export function keeperAuditTrail(
  write?: (line: string) => void,
): (completion: Completion) => void {
  const audit = createAuditTrail("keeper", write);
  let waiting = false;
  return (completion) => {
    const empty = completion.route === "keeper.shard" && completion.share === NO_SHARE;
    if (empty && waiting) return;
    waiting = empty;
    audit(completion);
  };
}
