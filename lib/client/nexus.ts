/**
 * A typed client for every Nexus route, built on the same route table and
 * contract the server uses. Connections are reused (keep-alive); non-200
 * answers become {@link ApiResponseError} carrying the contract's code.
 * Routes the table marks `retrySafe` (reads) are retried on connection
 * failures and 503 (Nexus not ready yet); writes never are, since a write may
 * have been applied before the failure. Given several replica URLs, a request
 * that fails at one goes to the next as lib/client/failover.ts allows: reads on
 * any transient failure, writes only when they provably never left.
 *
 * @module
 */

import type { DecryptResponse, EncryptResponse } from "../api/cipher.ts";
import { CIPHER_VERSION, STREAM_CONTENT_TYPE } from "../api/cipher.ts";
import { byteArrayField, fromBase64, type JsonObject, toBase64 } from "../api/json.ts";
import type { PolicyListResponse, PolicyResponse } from "../api/policies.ts";
import { BACKUP_MAX_BYTES, nexusRoute, type NexusRouteName, routeTarget } from "../api/routes.ts";
import {
  BACKUP_CONTENT_TYPE,
  RESTORE_FORCE_HEADER,
  type RestoreBackupResponse,
} from "../api/backup.ts";
import type {
  BootstrapStateResponse,
  RecoverResponse,
  RestoreResponse,
  VerifyResponse,
} from "../api/rootkey.ts";
import { shareToWire, verifyRequest } from "../api/rootkey.ts";
import type { StatusResponse } from "../api/status.ts";
import type {
  SecretGetResponse,
  SecretListResponse,
  SecretMetadataResponse,
} from "../api/secrets.ts";
import { SHARE_LENGTH, shareIndex } from "../crypto/shamir.ts";
import { retry } from "../std/retry.ts";
import type { MtlsAgent } from "../tls/client.ts";
import { ApiResponseError, isTransient, jsonBody } from "./errors.ts";
import { mayFailOver, tryOrder } from "./failover.ts";

/** Options for {@link NexusClient}. */
export interface NexusClientOptions {
  /** Nexus base URL, e.g. `https://localhost:8553`, or several replicas' (tried in order). */
  url: string | readonly string[];
  /** An mTLS agent that accepts only Nexus server IDs. */
  agent: MtlsAgent;
  /** Per-request deadline. Default 60 s (upstream's `SPIKE_HTTP_CLIENT_TIMEOUT`). */
  timeoutMs?: number;
  /** Rounds over the replicas for reads (1 disables retries). Default 3. */
  readAttempts?: number;
}

/** A policy to create or replace. */
export interface PolicyInput {
  name: string;
  spiffeidPattern: string;
  pathPattern: string;
  permissions: string[];
}

/** A Nexus client. */
export class NexusClient {
  /** The first replica's base URL. */
  readonly url: string;
  /** Every replica's base URL, in the order given. */
  readonly urls: readonly string[];
  readonly #agent: MtlsAgent;
  readonly #timeoutMs: number;
  readonly #readAttempts: number;
  /** The replica that answered last: requests start there. */
  #preferred = 0;

  constructor(options: NexusClientOptions) {
    const urls = typeof options.url === "string" ? [options.url] : [...options.url];
    if (urls.length === 0) throw new TypeError("NexusClient: no Nexus URL");
    this.urls = urls.map((u) => u.replace(/\/+$/, ""));
    this.url = this.urls[0];
    this.#agent = options.agent;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#readAttempts = options.readAttempts ?? 3;
  }

  /** Sends one request, moving on to the next replica as {@link mayFailOver} allows. */
  async #send(
    route: NexusRouteName,
    payload: Uint8Array,
    headers: Record<string, string>,
    maxResponseBytes?: number,
  ) {
    const spec = nexusRoute(route);
    const round = async () => {
      let last: unknown;
      for (const i of tryOrder(this.urls.length, this.#preferred)) {
        const url = this.urls[i] + routeTarget(spec);
        try {
          const res = await this.#agent.postBytes(url, payload, {
            timeoutMs: this.#timeoutMs,
            headers,
            idempotent: spec.retrySafe,
            maxResponseBytes,
          });
          if (res.status !== 200) throw new ApiResponseError(res.status, url, res.body);
          this.#preferred = i;
          return { res, url };
        } catch (e) {
          if (!mayFailOver(spec.retrySafe, e)) throw e;
          last = e;
        }
      }
      throw last;
    };
    if (!spec.retrySafe || this.#readAttempts <= 1) return await round();
    return await retry(round, {
      initialMs: 200,
      maxMs: 2000,
      maxAttempts: this.#readAttempts,
      retryable: isTransient,
    });
  }

  /** POSTs `body` to a route and returns the parsed 200 answer. */
  async call<T>(route: NexusRouteName, body: unknown): Promise<T> {
    const payload = new TextEncoder().encode(JSON.stringify(body));
    const { res, url } = await this.#send(route, payload, { "content-type": "application/json" });
    return jsonBody<T>(res.body, url);
  }

  // Secrets

  /** Stores `values` as a new version of `path` (exactly these keys). */
  async putSecret(path: string, values: Record<string, string>): Promise<void> {
    await this.call("secret.put", { path, values });
  }

  /** A version's values (0 or omitted: the current one). */
  async getSecret(path: string, version = 0): Promise<Record<string, string>> {
    const res = await this.call<SecretGetResponse>("secret.get", { path, version });
    return res.data ?? {};
  }

  /** Marks versions deleted (none or 0: the current one). */
  async deleteSecret(path: string, versions: number[] = []): Promise<void> {
    await this.call("secret.delete", { path, versions });
  }

  /** Clears the deletion of versions (none: the current one, or the latest if all are deleted). */
  async undeleteSecret(path: string, versions: number[] = []): Promise<void> {
    await this.call("secret.undelete", { path, versions });
  }

  /**
   * Removes versions from storage for good (0: the current one); none given:
   * the whole path. A version not stored is a 404.
   */
  async destroySecret(path: string, versions: number[] = []): Promise<void> {
    await this.call("secret.destroy", { path, versions });
  }

  // Backup (the Pilot superuser)

  /** A consistent, still-sealed snapshot of the store, as a backup file (lib/api/backup.ts). */
  async backup(): Promise<Uint8Array> {
    const payload = new TextEncoder().encode("{}");
    const { res } = await this.#send(
      "backup.take",
      payload,
      { "content-type": "application/json" },
      BACKUP_MAX_BYTES,
    );
    return res.body;
  }

  /** Loads a backup file; `force` replaces a store that holds records. */
  async restoreBackup(backup: Uint8Array, force = false): Promise<RestoreBackupResponse> {
    const { res, url } = await this.#send("backup.restore", backup, {
      "content-type": BACKUP_CONTENT_TYPE,
      ...(force ? { [RESTORE_FORCE_HEADER]: "true" } : {}),
    });
    return jsonBody<RestoreBackupResponse>(res.body, url);
  }

  /** Every secret path, sorted. */
  async listSecrets(): Promise<string[]> {
    return (await this.call<SecretListResponse>("secret.list", {})).keys ?? [];
  }

  /** A path's metadata: every kept version and the current one. */
  async getSecretMetadata(path: string, version = 0): Promise<SecretMetadataResponse> {
    return await this.call<SecretMetadataResponse>("secret.metadata", { path, version });
  }

  // Policies

  /** Creates or replaces a policy by name. */
  async putPolicy(policy: PolicyInput): Promise<void> {
    await this.call("policy.put", policy);
  }

  /** A policy by name. */
  async getPolicy(name: string): Promise<PolicyResponse> {
    return await this.call<PolicyResponse>("policy.get", { id: name });
  }

  /** Deletes a policy by name. */
  async deletePolicy(name: string): Promise<void> {
    await this.call("policy.delete", { id: name });
  }

  /** Policy names, optionally only those with exactly this SPIFFE ID or path pattern. */
  async listPolicies(
    filter: { spiffeidPattern?: string; pathPattern?: string } = {},
  ): Promise<PolicyListResponse["policies"]> {
    return (await this.call<PolicyListResponse>("policy.list", filter)).policies ?? [];
  }

  // Cipher

  /** Encrypts in JSON mode; the answer holds everything decrypt needs. */
  async encrypt(plaintext: Uint8Array): Promise<EncryptResponse> {
    return await this.call<EncryptResponse>("cipher.encrypt", { plaintext: toBase64(plaintext) });
  }

  /** Decrypts what {@link encrypt} returned. */
  async decrypt(sealed: EncryptResponse): Promise<Uint8Array> {
    const res = await this.call<DecryptResponse>("cipher.decrypt", {
      version: sealed.version ?? CIPHER_VERSION,
      nonce: sealed.nonce,
      ciphertext: sealed.ciphertext,
    });
    return fromBase64(res.plaintext ?? "");
  }

  /** Encrypts in stream mode: returns `0x01 ‖ nonce ‖ ciphertext`. */
  async encryptStream(plaintext: Uint8Array): Promise<Uint8Array> {
    return await this.#stream("cipher.encrypt", plaintext);
  }

  /** Decrypts what {@link encryptStream} returned. */
  async decryptStream(sealed: Uint8Array): Promise<Uint8Array> {
    return await this.#stream("cipher.decrypt", sealed);
  }

  async #stream(route: "cipher.encrypt" | "cipher.decrypt", body: Uint8Array): Promise<Uint8Array> {
    const { res } = await this.#send(route, body, { "content-type": STREAM_CONTENT_TYPE });
    return res.body;
  }

  // Status (any member of SPIKE's trust domains)

  /** Readiness, key generation, backend, Keepers and version; answered before the key is known. */
  async status(): Promise<StatusResponse> {
    return await this.call<StatusResponse>("status.get", {});
  }

  // Root key (Bootstrap and the Pilot recover/restore roles)

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
