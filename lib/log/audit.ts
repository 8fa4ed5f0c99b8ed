/**
 * The audit trail: one JSON line per request on stderr, naming the caller's
 * SPIFFE ID, the route, action, secret path (when there is one), status and
 * duration. It never holds a value: routes only note paths and versions.
 *
 * @module
 */

import type { Completion } from "../http/dispatch.ts";

const encoder = new TextEncoder();

/** A sink for completion records that writes audit lines for `component`. */
export function createAuditTrail(
  component: string,
  write: (line: string) => void = (line) => Deno.stderr.writeSync(encoder.encode(line)),
): (completion: Completion) => void {
  return (completion) => {
    write(
      JSON.stringify({ time: new Date().toISOString(), audit: true, component, ...completion }) +
        "\n",
    );
  };
}
