/**
 * Bootstrap configuration, with upstream's variable names and defaults.
 *
 * @module
 */

import { ConfigError, envBool, envDuration, envInt } from "../lib/config/env.ts";
import { nexusUrlFromEnv } from "../lib/config/nexus_url.ts";
import { type KeeperPeer, keeperPeersFromEnv } from "../lib/config/peers.ts";
import { MAX_SHARES, validateShareCounts } from "../lib/crypto/shamir.ts";

/** Everything Bootstrap reads from its environment. */
export interface BootstrapConfig {
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
  const shares = envInt("SPIKE_NEXUS_SHAMIR_SHARES", 3, { min: 2, max: MAX_SHARES });
  const threshold = envInt("SPIKE_NEXUS_SHAMIR_THRESHOLD", 2, { min: 2, max: MAX_SHARES });
  try {
    validateShareCounts(shares, threshold);
  } catch (e) {
    throw new ConfigError(
      `SPIKE_NEXUS_SHAMIR_SHARES=${shares} and SPIKE_NEXUS_SHAMIR_THRESHOLD=${threshold}: ${
        (e as Error).message
      }`,
    );
  }
  if (keepers.length !== shares) {
    throw new ConfigError(
      `SPIKE_NEXUS_KEEPER_PEERS lists ${keepers.length} Keepers but SPIKE_NEXUS_SHAMIR_SHARES is ` +
        `${shares}; they must be equal (Keeper i gets share i)`,
    );
  }
  return {
    nexusUrl: nexusUrlFromEnv(),
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
