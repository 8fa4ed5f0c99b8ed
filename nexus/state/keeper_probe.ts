/**
 * Asks each Keeper, on demand, whether it answers and holds the share of its
 * position: what `POST /v1/status` and the metrics report. Every Keeper is
 * asked at once with a short deadline, so one dead Keeper costs at most that
 * deadline. Answers are shared by concurrent askers and kept briefly, so a
 * burst of status calls or scrapes never turns into a burst at the Keepers.
 * A share that comes back is zeroed at once: only its presence and position
 * are kept.
 *
 * @module
 */

import type { KeeperStatus } from "../../lib/api/status.ts";
import { ApiResponseError, TransportError } from "../../lib/client/errors.ts";
import type { KeeperClient } from "../../lib/client/keeper.ts";
import type { KeeperPeer } from "../../lib/config/peers.ts";
import { shareIndex } from "../../lib/crypto/shamir.ts";

/** Longest wait for one Keeper's answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
/** How long one round of answers is reused. */
export const DEFAULT_PROBE_CACHE_MS = 2000;

/** What the probe needs from a Keeper client (a {@link KeeperClient} has it). */
export type ShardReader = Pick<KeeperClient, "shard">;

/** Options of {@link KeeperProbe}. */
export interface KeeperProbeOptions {
  /** Reuse one round's answers this long. */
  cacheMs?: number;
  now?: () => number;
}

function problemOf(e: unknown): string {
  if (e instanceof TransportError) return `unreachable (${e.kind})`;
  if (e instanceof ApiResponseError) return `answered HTTP ${e.status}`;
  return "unreachable";
}

/** Reports on the Keepers, at most once per cache period. */
export class KeeperProbe {
  readonly #peers: readonly KeeperPeer[];
  readonly #client: ShardReader;
  readonly #cacheMs: number;
  readonly #now: () => number;
  #last: { at: number; result: KeeperStatus[] } | undefined;
  #inFlight: Promise<KeeperStatus[]> | undefined;

  /** `client` should carry the probe's short deadline (see {@link DEFAULT_PROBE_TIMEOUT_MS}). */
  constructor(peers: readonly KeeperPeer[], client: ShardReader, options: KeeperProbeOptions = {}) {
    this.#peers = peers;
    this.#client = client;
    this.#cacheMs = options.cacheMs ?? DEFAULT_PROBE_CACHE_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Every Keeper's state, in share order (fresh, or at most the cache period old). */
  check(): Promise<KeeperStatus[]> {
    if (this.#last && this.#now() - this.#last.at < this.#cacheMs) {
      return Promise.resolve(this.#last.result.map((k) => ({ ...k })));
    }
    this.#inFlight ??= this.#round().finally(() => this.#inFlight = undefined);
    return this.#inFlight.then((r) => r.map((k) => ({ ...k })));
  }

  async #round(): Promise<KeeperStatus[]> {
    const result = await Promise.all(this.#peers.map((peer) => this.#one(peer)));
    this.#last = { at: this.#now(), result };
    return result;
  }

  async #one(peer: KeeperPeer): Promise<KeeperStatus> {
    const base = { index: peer.index, url: peer.url };
    let share: Uint8Array | null;
    try {
      share = await this.#client.shard(peer.url);
    } catch (e) {
      return { ...base, reachable: false, holdsShare: false, problem: problemOf(e) };
    }
    if (share === null) {
      return { ...base, reachable: true, holdsShare: false, problem: "holds no share" };
    }
    const index = shareIndex(share);
    share.fill(0);
    if (index !== peer.index) {
      return {
        ...base,
        reachable: true,
        holdsShare: false,
        problem: `holds the share of position ${index}`,
      };
    }
    return { ...base, reachable: true, holdsShare: true };
  }
}
