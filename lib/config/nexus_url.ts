/**
 * `SPIKE_NEXUS_API_URL`: where Pilot, Bootstrap and workloads find Nexus. It
 * may list several replicas, comma-separated; clients fail over between them
 * (lib/client/failover.ts).
 *
 * @module
 */

import { ConfigError, envString } from "./env.ts";
import { DEFAULT_PORTS } from "./programs.ts";

/** Upstream's default. */
export const DEFAULT_NEXUS_API_URL = `https://localhost:${DEFAULT_PORTS.nexus}`;

/**
 * Parses a comma list of Nexus URLs (one URL is a list of one). Each must be an
 * `https:` URL; they come back normalized (no trailing slash), in the order given,
 * without repeats. Throws {@link ConfigError} naming the bad entry.
 */
export function parseNexusUrls(text: string, setting = "SPIKE_NEXUS_API_URL"): string[] {
  const urls: string[] = [];
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") {
      throw new ConfigError(`${setting}=${JSON.stringify(text)} has an empty entry`);
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(
        `${setting}=${JSON.stringify(text)}: ${JSON.stringify(entry)} is not a URL`,
      );
    }
    if (url.protocol !== "https:") {
      throw new ConfigError(
        `${setting}=${JSON.stringify(text)}: ${JSON.stringify(entry)} must use https`,
      );
    }
    const normal = url.toString().replace(/\/+$/, "");
    if (!urls.includes(normal)) urls.push(normal);
  }
  return urls;
}

/** The Nexus API URLs (`SPIKE_NEXUS_API_URL`), checked; at least one. */
export function nexusUrlsFromEnv(): string[] {
  return parseNexusUrls(envString("SPIKE_NEXUS_API_URL", DEFAULT_NEXUS_API_URL));
}
