/**
 * The settings every SPIKE server (Nexus, Keeper) reads for its listener: how long a
 * client may take to finish its handshake and send its request head (upstream's
 * `SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT`, which, as in Go's `net/http`, covers the TLS
 * handshake too), and how many connections may be open in all and from one address.
 *
 * @module
 */

import { envDuration, envInt } from "./env.ts";

/** The listener limits, as `createMtlsServer` takes them. */
export interface ListenerLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/** Defaults: upstream's 10 s header timeout; caps that a fleet behind one balancer fits in. */
export const LISTENER_DEFAULTS: ListenerLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 1024,
};

/**
 * Reads `SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT` (Go duration, at least 100ms),
 * `SPIKE_HTTP_SERVER_MAX_CONNECTIONS` and `SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER`
 * (0 turns a cap off). Throws `ConfigError` naming the variable.
 */
export function listenerLimitsFromEnv(): ListenerLimits {
  const timeout = envDuration(
    "SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT",
    LISTENER_DEFAULTS.headersTimeoutMs,
    { min: 100 },
  );
  return {
    handshakeTimeoutMs: timeout,
    headersTimeoutMs: timeout,
    maxConnections: envInt("SPIKE_HTTP_SERVER_MAX_CONNECTIONS", LISTENER_DEFAULTS.maxConnections, {
      min: 0,
    }),
    maxConnectionsPerAddress: envInt(
      "SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER",
      LISTENER_DEFAULTS.maxConnectionsPerAddress,
      { min: 0 },
    ),
  };
}
