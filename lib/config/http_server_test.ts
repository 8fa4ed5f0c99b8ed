import assert from "node:assert/strict";
import { ConfigError } from "./env.ts";
import { LISTENER_DEFAULTS, listenerLimitsFromEnv } from "./http_server.ts";

const NAMES = [
  "SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT",
  "SPIKE_HTTP_SERVER_REQUEST_TIMEOUT",
  "SPIKE_HTTP_SERVER_MAX_CONNECTIONS",
  "SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER",
];

function withEnv(values: Record<string, string>, fn: () => void): void {
  for (const name of NAMES) Deno.env.delete(name);
  for (const [k, v] of Object.entries(values)) Deno.env.set(k, v);
  try {
    fn();
  } finally {
    for (const name of NAMES) Deno.env.delete(name);
  }
}

Deno.test("listener limits: defaults, upstream's header timeout also bounding the handshake", () => {
  withEnv({}, () => assert.deepEqual(listenerLimitsFromEnv(), LISTENER_DEFAULTS));
  withEnv({
    SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT: "2s",
    SPIKE_HTTP_SERVER_MAX_CONNECTIONS: "0",
    SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER: "50",
  }, () =>
    assert.deepEqual(listenerLimitsFromEnv(), {
      handshakeTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 60_000,
      maxConnections: 0,
      maxConnectionsPerAddress: 50,
    }));
});

Deno.test("listener limits: a bad value names the variable", () => {
  for (
    const [name, value, why] of [
      ["SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT", "10", /SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT="10"/],
      ["SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT", "1ms", /at least 100ms/],
      ["SPIKE_HTTP_SERVER_MAX_CONNECTIONS", "many", /whole number/],
      ["SPIKE_HTTP_SERVER_REQUEST_TIMEOUT", "1s", /must not be below SPIKE_HTTP_SERVER_READ/],
      ["SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER", "-1", /from 0/],
    ] as const
  ) {
    withEnv({ [name]: value }, () =>
      assert.throws(() => listenerLimitsFromEnv(), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, why);
        return true;
      }));
  }
});
