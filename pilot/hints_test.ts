import assert from "node:assert/strict";
import { missingAgentHint, unreachableHint } from "./hints.ts";

const NAMES = ["SPIFFE_ENDPOINT_SOCKET", "SPIKE_PILOT_DEFAULT_SOCKET", "SPIKE_NEXUS_API_URL"];

/** Runs `fn` with exactly `env` set among {@link NAMES}, then puts the old values back. */
function withEnv(env: Record<string, string>, fn: () => void) {
  const saved = NAMES.map((n) => [n, Deno.env.get(n)] as const);
  try {
    for (const n of NAMES) env[n] === undefined ? Deno.env.delete(n) : Deno.env.set(n, env[n]);
    fn();
  } finally {
    for (const [n, v] of saved) v === undefined ? Deno.env.delete(n) : Deno.env.set(n, v);
  }
}

const DEV = { SPIKE_PILOT_DEFAULT_SOCKET: "unix:///repo/.spike/agent/sockets/pilot.sock" };

Deno.test("a dev stack user is told to run deno task dev, for the agent and for Nexus", () => {
  withEnv(DEV, () => {
    assert.match(
      missingAgentHint("/s"),
      /the dev stack is not running; start it with deno task dev/,
    );
    assert.match(
      unreachableHint("https://localhost:8553", "ECONNREFUSED"),
      /the dev stack's Nexus is not running; start the stack with deno task dev$/,
    );
  });
});

Deno.test("anyone else is told about their agent and their Nexus setting", () => {
  withEnv({ SPIFFE_ENDPOINT_SOCKET: "unix:///run/spire/sockets/agent.sock" }, () => {
    assert.match(
      missingAgentHint("/run/spire/sockets/agent.sock"),
      /start the agent that serves it/,
    );
    assert.match(unreachableHint("https://nexus:8553", "x"), /check SPIKE_NEXUS_API_URL/);
  });
  // The dev socket, but a Nexus of the user's choosing: the setting, not deno task dev.
  withEnv({ ...DEV, SPIKE_NEXUS_API_URL: "https://nexus:8553" }, () => {
    assert.match(unreachableHint("https://nexus:8553", "x"), /check SPIKE_NEXUS_API_URL/);
  });
});
