/**
 * Bootstrap configuration, with upstream's variable names and defaults.
 *
 * @module
 */

import { envBool, envDuration, envInt } from "../lib/config/env.ts";
import { nexusUrlsFromEnv } from "../lib/config/nexus_url.ts";
import { type KeeperPeer, keeperPeersFromEnv } from "../lib/config/peers.ts";
import { shamirFromEnv } from "../lib/config/shamir.ts";

/** Everything Bootstrap reads from its environment. */
export interface BootstrapConfig {
  /** Nexus replicas (`SPIKE_NEXUS_API_URL`, a comma list); the client fails over between them. */
  nexusUrls: string[];
  /** The same list, for messages. */
  nexusUrl: string;
  keepers: KeeperPeer[];
  shares: number;
  threshold: number;
  force: boolean;
  keeperTimeoutMs: number;
  keeperMaxRetries: number;
  keeperRetryInitialMs: number;
  keeperRetryMaxMs: number;
  verificationTimeoutMs: number;
  /** Whole-run watchdog; 0 means none. */
  timeoutMs: number;
}

/** Reads and checks the configuration. */
export function loadBootstrapConfig(): BootstrapConfig {
  const keepers = keeperPeersFromEnv();
  const { shares, threshold } = shamirFromEnv(keepers.length);
  const nexusUrls = nexusUrlsFromEnv();
  return {
    nexusUrls,
    nexusUrl: nexusUrls.join(", "),
    keepers,
    shares,
    threshold,
    force: envBool("SPIKE_BOOTSTRAP_FORCE", false),
    keeperTimeoutMs: envDuration("SPIKE_BOOTSTRAP_KEEPER_TIMEOUT", 30_000, { min: 1 }),
    keeperMaxRetries: envInt("SPIKE_BOOTSTRAP_KEEPER_MAX_RETRIES", 5, { min: 1, max: 1000 }),
    keeperRetryInitialMs: envDuration("SPIKE_BOOTSTRAP_KEEPER_RETRY_INITIAL_INTERVAL", 2_000, {
      min: 1,
    }),
    keeperRetryMaxMs: envDuration("SPIKE_BOOTSTRAP_KEEPER_RETRY_MAX_INTERVAL", 30_000, { min: 1 }),
    verificationTimeoutMs: envDuration("SPIKE_BOOTSTRAP_INIT_VERIFICATION_TIMEOUT", 30 * 60_000, {
      min: 1,
    }),
    timeoutMs: envDuration("SPIKE_BOOTSTRAP_TIMEOUT", 0),
  };
}
