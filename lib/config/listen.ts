/**
 * Listen addresses in upstream's form (`:8553`, `127.0.0.1:8553`, `[::1]:8553`),
 * as `SPIKE_NEXUS_TLS_PORT` and `SPIKE_KEEPER_TLS_PORT` take them.
 *
 * @module
 */

import { ConfigError } from "./env.ts";

/** A listen address: `:8443` (every interface) or `host:port`. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** Parses a listen address; `name` is the variable it came from, for the error. */
export function parseListenAddress(name: string, text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 0 || port > 65535) {
    throw new ConfigError(
      `${name}=${JSON.stringify(text)} is invalid: write ":PORT" or "HOST:PORT", e.g. ":8553"`,
    );
  }
  const hostname = match[1] ?? (match[2] || "0.0.0.0");
  return { hostname, port };
}
