/**
 * `SPIKE_NEXUS_KEEPER_PEERS`: the Keepers' URLs, comma-separated. A Keeper's
 * position (from 1) is its share index, so the order must never change.
 *
 * @module
 */

import { ConfigError, envList } from "./env.ts";
import { DEFAULT_PORTS } from "./programs.ts";

/** The variable Nexus and Bootstrap read the Keeper list from. */
export const KEEPER_PEERS_ENV = "SPIKE_NEXUS_KEEPER_PEERS";

/** A Keeper and the share index it holds. */
export interface KeeperPeer {
  /** 1-based position in the list, which is the x coordinate of its share. */
  index: number;
  /** Base URL, e.g. `https://localhost:8443`, without a trailing slash. */
  url: string;
}

/** Parses and checks the Keeper list: https URLs with a host, no duplicates, none empty. */
export function parseKeeperPeers(text: string, name = KEEPER_PEERS_ENV): KeeperPeer[] {
  const items = text.split(",").map((s) => s.trim());
  const bad = (why: string) =>
    new ConfigError(`${name}=${JSON.stringify(text)} is invalid: ${why}`);
  if (items.some((s) => s === "")) throw bad("it has an empty entry");
  const seen = new Set<string>();
  return items.map((item, i) => {
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw bad(`"${item}" is not a URL`);
    }
    if (url.protocol !== "https:") throw bad(`"${item}" must use https`);
    if (!url.hostname) throw bad(`"${item}" has no host`);
    if (url.search || url.hash || url.username || url.password) {
      throw bad(`"${item}" must be only scheme, host, port and path`);
    }
    const base = url.toString().replace(/\/+$/, "");
    if (seen.has(base)) throw bad(`"${item}" is listed twice`);
    seen.add(base);
    return { index: i + 1, url: base };
  });
}

/** The Keeper list from the environment; an error naming the variable when unset. */
export function keeperPeersFromEnv(): KeeperPeer[] {
  const list = envList(KEEPER_PEERS_ENV, []);
  if (list.length === 0) {
    throw new ConfigError(
      `${KEEPER_PEERS_ENV} is not set: list the Keepers' URLs, e.g. ` +
        DEFAULT_PORTS.keepers.map((port) => `https://localhost:${port}`).join(","),
    );
  }
  return parseKeeperPeers(list.join(","));
}
