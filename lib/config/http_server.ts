/**
 * The settings every SPIKE server (Nexus, Keeper) reads for its listener: how long a
 * client may take to finish its handshake and send its request head (upstream's
 * `SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT`, which, as in Go's `net/http`, covers the TLS
 * handshake too), and how many connections may be open in all and from one address.
 *
 * @module
 */

import { ConfigError, envDuration, envInt } from "./env.ts";

/** The listener limits, as `createMtlsServer` takes them. */
export interface ListenerLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/** Defaults: upstream's 10 s header timeout; caps that a fleet behind one balancer fits in. */
export const LISTENER_DEFAULTS: ListenerLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 1024,
};

/**
 * Reads `SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT` (Go duration, at least 100ms),
 * `SPIKE_HTTP_SERVER_REQUEST_TIMEOUT` (the whole request, body included; ours, as Go's
 * `ReadTimeout`; not below the header timeout), `SPIKE_HTTP_SERVER_MAX_CONNECTIONS` and
 * `SPIKE_HTTP_SERVER_MAX_CONNECTIONS_PER_PEER` (0 turns a cap off). Throws `ConfigError`
 * naming the variable.
 */
export function listenerLimitsFromEnv(): ListenerLimits {
  const timeout = envDuration(
    "SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT",
    LISTENER_DEFAULTS.headersTimeoutMs,
    { min: 100 },
  );
  const request = envDuration(
    "SPIKE_HTTP_SERVER_REQUEST_TIMEOUT",
    Math.max(LISTENER_DEFAULTS.requestTimeoutMs, timeout),
    { min: 100 },
  );
  if (request < timeout) {
    throw new ConfigError(
      `SPIKE_HTTP_SERVER_REQUEST_TIMEOUT (${request}ms) is invalid: it must not be below ` +
        `SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT (${timeout}ms), which is part of it`,
    );
  }
  return {
    handshakeTimeoutMs: timeout,
    headersTimeoutMs: timeout,
    requestTimeoutMs: request,
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
