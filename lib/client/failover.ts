/**
 * When a request that failed at one Nexus replica may go to the next one. Reads (routes
 * marked `retrySafe`) change nothing, so any failure that another replica may not share
 * moves on. A write moves on only when it provably never reached the server: the connection
 * was refused or the host unreachable before any TLS session carried it. After a timeout or
 * a connection cut mid-request the write may have been applied, so sending it elsewhere
 * could apply it twice; the caller gets the error instead.
 *
 * @module
 */

import { isTransient, TransportError } from "./errors.ts";

/** Whether a request that failed with `e` may be sent to another replica. */
export function mayFailOver(retrySafe: boolean, e: unknown): boolean {
  if (retrySafe) {
    return isTransient(e) ||
      (e instanceof TransportError && (e.kind === "unreachable" || e.kind === "timeout"));
  }
  return provablyUnsent(e);
}

/** The request never reached the server: refused or unreachable before a connection existed. */
export function provablyUnsent(e: unknown): boolean {
  return e instanceof TransportError && e.unsent &&
    (e.kind === "refused" || e.kind === "unreachable");
}

/**
 * The order to try `count` replicas in: the one that answered last first, then the rest
 * round the list, so a dead replica costs one failed connection per request at most once.
 */
export function tryOrder(count: number, preferred: number): number[] {
  return Array.from({ length: count }, (_, i) => (preferred + i) % count);
}
