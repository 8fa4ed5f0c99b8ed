/**
 * Hints that name the command fixing the situation the user is in. A user of
 * the dev stack (the `spike` task: Pilot takes the dev agent's socket from
 * `SPIKE_PILOT_DEFAULT_SOCKET`) fixes a missing agent or Nexus with
 * `deno task dev`; anyone else with their agent (SPIRE) or their Nexus
 * settings.
 *
 * @module
 */

import { ENDPOINT_SOCKET_ENV } from "../lib/spiffe/endpoint.ts";

/** True when Pilot uses the dev stack's defaults (the `spike` task, nothing exported). */
export function usesDevStack(): boolean {
  return !Deno.env.get(ENDPOINT_SOCKET_ENV) && !!Deno.env.get("SPIKE_PILOT_DEFAULT_SOCKET");
}

/** What to do when the Workload API socket at `path` is missing. */
export function missingAgentHint(path: string): string {
  if (usesDevStack()) {
    return `no Workload API socket at ${path}: the dev stack is not running; start it with ` +
      "deno task dev (in the checkout, in another terminal)";
  }
  return `no Workload API socket at ${path}; start the agent that serves it (SPIRE's ` +
    "spire-agent, or the dev stack with deno task dev), or point SPIFFE_ENDPOINT_SOCKET at " +
    "its socket";
}

/** What to do when Nexus at `url` cannot be reached (`detail` is the transport's error). */
export function unreachableHint(url: string, detail: string): string {
  if (usesDevStack() && !Deno.env.get("SPIKE_NEXUS_API_URL")) {
    return `cannot reach SPIKE Nexus at ${url} (${detail}): the dev stack's Nexus is not ` +
      "running; start the stack with deno task dev";
  }
  return `cannot reach SPIKE Nexus at ${url} (${detail}); check SPIKE_NEXUS_API_URL and that ` +
    "Nexus runs";
}
