/**
 * `SPIKE_NEXUS_METRICS_PORT`: where Nexus serves Prometheus metrics, if at
 * all. A bare port binds loopback (`9090` is `127.0.0.1:9090`); `HOST:PORT`
 * binds that host (`0.0.0.0:9090` for every interface, `[::1]:9090`).
 * `:PORT`, which means every interface in the TLS port settings, is refused
 * here so that exposing metrics is always spelled out. Unset or empty: off.
 *
 * @module
 */

import { ConfigError } from "./env.ts";
import type { ListenAddress } from "./listen.ts";

/** The variable. */
export const METRICS_PORT_ENV = "SPIKE_NEXUS_METRICS_PORT";

/** The metrics listen address, or undefined when `text` is unset or empty (metrics off). */
export function parseMetricsAddress(
  text: string | undefined,
  name = METRICS_PORT_ENV,
): ListenAddress | undefined {
  const value = text?.trim() ?? "";
  if (value === "") return undefined;
  const bad = () =>
    new ConfigError(
      `${name}=${JSON.stringify(value)} is invalid: write PORT (loopback, e.g. 9090) or ` +
        "HOST:PORT (e.g. 0.0.0.0:9090 for every interface)",
    );
  const match = /^(?:(?:\[([^\]]+)\]|([^:\[\]]+)):)?(\d{1,5})$/.exec(value);
  if (!match) throw bad();
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw bad();
  return { hostname: match[1] ?? match[2] ?? "127.0.0.1", port };
}
