/**
 * `SPIKE_NEXUS_API_URL`: where Pilot, Bootstrap and workloads find Nexus.
 *
 * @module
 */

import { ConfigError, envString } from "./env.ts";
import { DEFAULT_PORTS } from "./programs.ts";

/** Upstream's default. */
export const DEFAULT_NEXUS_API_URL = `https://localhost:${DEFAULT_PORTS.nexus}`;

/** The Nexus API URL (`SPIKE_NEXUS_API_URL`), checked. */
export function nexusUrlFromEnv(): string {
  const raw = envString("SPIKE_NEXUS_API_URL", DEFAULT_NEXUS_API_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`SPIKE_NEXUS_API_URL=${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "https:") {
    throw new ConfigError(`SPIKE_NEXUS_API_URL=${JSON.stringify(raw)} must use https`);
  }
  return url.toString().replace(/\/+$/, "");
}
