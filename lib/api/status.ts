/**
 * The contract of `POST /v1/status` (not upstream): what an operator or a
 * probe needs to know about one Nexus, and nothing secret. Any verified
 * SPIFFE ID of a trust domain SPIKE is configured with may ask; no policy is
 * needed, and the route answers before the root key is known (that is when
 * it matters most).
 *
 * @module
 */

/** Where the root key is: `waiting` (none), `pending` (awaiting Bootstrap's verify), `ready`. */
export type KeyState = "waiting" | "pending" | "ready";

/** One Keeper, as Nexus found it when asked (within a bounded wait). */
export interface KeeperStatus {
  /** 1-based position in `SPIKE_NEXUS_KEEPER_PEERS` (its share's x coordinate). */
  index: number;
  url: string;
  /** It answered over mTLS in time. */
  reachable: boolean;
  /** It holds a share, and the share is for its position. */
  holdsShare: boolean;
  /** Why not, in a few words (never a share or a value); absent when all is well. */
  problem?: string;
}

/** `POST /v1/status` success body. */
export interface StatusResponse {
  /** Serving secrets and policies (the root key is known). */
  ready: boolean;
  keyState: KeyState;
  /**
   * The generation of the root key in use: 1 for the first key. Always 1
   * until root-key rotation exists; 0 while no key is known.
   */
  keyGeneration: number;
  /** `SPIKE_NEXUS_BACKEND_STORE`: kv, sqlite, postgres, memory or lite. */
  backend: string;
  /** The Keepers, in share order; empty for a backend without Keepers. */
  keepers: KeeperStatus[];
  /** Shares needed to rebuild the root key (0 for a backend without Keepers). */
  threshold: number;
  /** Nexus's version. */
  version: string;
}

/** The request body: an empty JSON object (nothing is read from it). */
export type StatusRequest = Record<string, never>;
