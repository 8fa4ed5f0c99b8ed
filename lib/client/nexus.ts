/**
 * A typed client for Nexus, built on the same route table and contract the
 * server uses. Non-200 answers become {@link ApiResponseError} with the
 * contract's code.
 *
 * @module
 */

import { nexusRoute, type NexusRouteName, routeTarget } from "../api/routes.ts";
import type {
  BootstrapStateResponse,
  RecoverResponse,
  RestoreResponse,
  VerifyResponse,
} from "../api/rootkey.ts";
import { shareToWire, verifyRequest } from "../api/rootkey.ts";
import { byteArrayField, type JsonObject } from "../api/json.ts";
import { SHARE_LENGTH, shareIndex } from "../crypto/shamir.ts";
import type { MtlsAgent } from "../tls/client.ts";
import { ApiResponseError, jsonBody } from "./errors.ts";

/** Options for {@link NexusClient}. */
export interface NexusClientOptions {
  /** Nexus base URL, e.g. `https://localhost:8553`. */
  url: string;
  /** An mTLS agent that accepts only Nexus server IDs. */
  agent: MtlsAgent;
  /** Per-request deadline. Default 60 s (upstream's `SPIKE_HTTP_CLIENT_TIMEOUT`). */
  timeoutMs?: number;
}

/** A Nexus client. */
export class NexusClient {
  readonly url: string;
  readonly #agent: MtlsAgent;
  readonly #timeoutMs: number;

  constructor(options: NexusClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#agent = options.agent;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** POSTs `body` to a route and returns the parsed 200 answer. */
  async call<T>(route: NexusRouteName, body: unknown): Promise<T> {
    const url = this.url + routeTarget(nexusRoute(route));
    const res = await this.#agent.postJson(url, body, { timeoutMs: this.#timeoutMs });
    if (res.status !== 200) throw new ApiResponseError(res.status, url);
    return jsonBody<T>(res.body, url);
  }

  /** Whether Nexus already holds a root key (Bootstrap only). */
  async bootstrapState(): Promise<BootstrapStateResponse> {
    return await this.call<BootstrapStateResponse>("bootstrap.state", {});
  }

  /** Asks Nexus to decrypt a challenge; returns the SHA-256 hex of the plaintext (Bootstrap only). */
  async bootstrapVerify(nonce: Uint8Array, ciphertext: Uint8Array): Promise<string> {
    const res = await this.call<VerifyResponse>(
      "bootstrap.verify",
      verifyRequest(nonce, ciphertext),
    );
    return res.hash;
  }

  /** Every share of the root key (pilot recover role only). */
  async recover(): Promise<Uint8Array[]> {
    const res = await this.call<RecoverResponse>("operator.recover", {});
    const shares = Object.entries(res.shards ?? {}).map(([index, numbers]) => {
      const share = byteArrayField({ shard: numbers } as JsonObject, "shard", SHARE_LENGTH)!;
      if (String(shareIndex(share)) !== index) {
        throw new Error(`Nexus answered share ${index} with the index ${shareIndex(share)}`);
      }
      return share;
    });
    return shares.sort((a, b) => shareIndex(a) - shareIndex(b));
  }

  /** Hands one share back (pilot restore role only). */
  async restore(share: Uint8Array): Promise<RestoreResponse> {
    return await this.call<RestoreResponse>("operator.restore", {
      id: shareIndex(share),
      shard: shareToWire(share),
    });
  }
}
