/**
 * Talking to Keepers (for Nexus and Bootstrap): store a share, read it back.
 *
 * @module
 */

import { keeperRoute, routeTarget } from "../api/routes.ts";
import { type ShardResponse, shareToWire } from "../api/rootkey.ts";
import { byteArrayField, type JsonObject } from "../api/json.ts";
import { SHARE_LENGTH } from "../crypto/shamir.ts";
import type { MtlsAgent } from "../tls/client.ts";
import { ApiResponseError, jsonBody } from "./errors.ts";

/**
 * The most a Keeper's answer may hold: a share is a few hundred bytes of JSON, so a
 * Keeper that sends more is refused without being read into memory.
 */
export const MAX_KEEPER_RESPONSE_BYTES = 64 * 1024;

/** A client for Keepers, over an mTLS agent that only accepts Keeper IDs. */
export class KeeperClient {
  constructor(readonly agent: MtlsAgent, readonly timeoutMs = 10_000) {}

  /** Gives the Keeper at `baseUrl` its share. */
  async contribute(baseUrl: string, share: Uint8Array): Promise<void> {
    const url = baseUrl + routeTarget(keeperRoute("keeper.contribute"));
    const res = await this.agent.postJson(url, { shard: shareToWire(share) }, {
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_KEEPER_RESPONSE_BYTES,
    });
    if (res.status !== 200) throw new ApiResponseError(res.status, url);
  }

  /** The Keeper's share, or null when it holds none. */
  async shard(baseUrl: string): Promise<Uint8Array | null> {
    const url = baseUrl + routeTarget(keeperRoute("keeper.shard"));
    const res = await this.agent.postJson(url, {}, {
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_KEEPER_RESPONSE_BYTES,
    });
    // An empty Keeper answers 400.
    if (res.status === 400) return null;
    if (res.status !== 200) throw new ApiResponseError(res.status, url);
    const body = jsonBody<ShardResponse>(res.body, url);
    const share = byteArrayField(body as unknown as JsonObject, "shard", SHARE_LENGTH);
    return share;
  }
}
