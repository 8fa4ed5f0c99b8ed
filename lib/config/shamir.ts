/**
 * `SPIKE_NEXUS_SHAMIR_SHARES` and `SPIKE_NEXUS_SHAMIR_THRESHOLD`, read the same
 * way by Nexus and Bootstrap: 2 <= threshold <= shares <= 255, and one share
 * per Keeper in `SPIKE_NEXUS_KEEPER_PEERS` (Keeper i holds share i). Nexus
 * may list more Keepers than shares: the extra ones wait for a rekey.
 *
 * @module
 */

import { MAX_SHARES, validateShareCounts } from "../crypto/shamir.ts";
import { ConfigError, envInt } from "./env.ts";

/** How the root key is split. */
export interface ShamirSettings {
  shares: number;
  threshold: number;
}

/**
 * Reads and checks the share counts; `keepers` (when given) must equal the
 * share count, or with `moreKeepers` be at least it.
 */
export function shamirFromEnv(keepers?: number, moreKeepers = false): ShamirSettings {
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
  if (moreKeepers && keepers !== undefined && keepers < shares) {
    throw new ConfigError(
      `SPIKE_NEXUS_KEEPER_PEERS lists ${keepers} Keepers but SPIKE_NEXUS_SHAMIR_SHARES is ` +
        `${shares}; list at least that many (the first ${shares} hold the shares until a rekey)`,
    );
  }
  if (!moreKeepers && keepers !== undefined && keepers !== shares) {
    throw new ConfigError(
      `SPIKE_NEXUS_KEEPER_PEERS lists ${keepers} Keepers but SPIKE_NEXUS_SHAMIR_SHARES is ` +
        `${shares}; they must be equal (Keeper i holds share i)`,
    );
  }
  return { shares, threshold };
}
