/**
 * An HTTPS client side for SPIFFE peers (go-spiffe's `MTLSClientConfig` on `node:https`): a
 * keep-alive Agent that presents our current X.509-SVID, verifies the server's SVID against
 * the bundle of the server's own trust domain, and authorizes the server by SPIFFE ID instead
 * of by host name. It follows rotation by building a fresh Agent for new requests.
 *
 * Facts about Deno 2.9.6's `node:https` client this relies on (measured, see the tests):
 * - `checkServerIdentity(host, cert)` is called after the TLS stack verified the chain against
 *   `ca`, and `cert.issuerCertificate` exposes the presented intermediates; an error it returns
 *   aborts the connection only when `rejectUnauthorized` is true (with false it is ignored and
 *   the request goes through), so it stays true here.
 * - Without `ca` Deno asks for system-CA access (`NotCapable: Requires sys access to "ca"`);
 *   an empty array works and trusts nothing.
 * - Node skips `checkServerIdentity` on resumed sessions; `maxCachedSessions: 0` keeps every
 *   connection a full handshake (Deno did not resume in our probes either way).
 * - Unlike Node, Deno's client (ext/node/polyfills/_http_client.js, `maybeRetryRequest`)
 *   silently sends a request again on a new connection when its reused keep-alive socket
 *   closes, errors or ends before the answer's head, whatever the method, and also after
 *   `req.destroy()`. A write the server applied before it died (or before our timeout) would
 *   then run twice, and a refused second try would look as if the first never left. So that
 *   replay is off unless the caller says the request is idempotent, and always off once we
 *   gave up on a request (its `_retrying` flag, which that function checks).
 *
 * @module
 */

import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { PeerCertificate } from "node:tls";
import { clearTimeout, setTimeout } from "node:timers";
import type { X509Source } from "../spiffe/source.ts";
import { certChainPem, privateKeyPem, verifyX509Svid } from "../spiffe/x509svid.ts";
import { errorMessage } from "../std/errors.ts";
import type { Authorizer } from "./authorize.ts";
import { toTransportError, TransportError } from "./errors.ts";
import { peerCertificateChain } from "./peer.ts";

/** Options for {@link createMtlsAgent}. */
export interface MtlsAgentOptions {
  /** Our SVID and the bundles that servers are verified against. */
  source: X509Source;
  /** Decides which verified servers we talk to. */
  authorizer: Authorizer;
  /** Most sockets per server. Default: unlimited (Node's default). */
  maxSockets?: number;
  /** Idle pooled connections are closed after this long. Default 25 s (below servers' 30 s). */
  idleTimeoutMs?: number;
  /** Told when building an Agent after rotation fails (the old one stays in use). */
  onError?: (error: Error) => void;
}

/** Options for {@link MtlsAgent.postJson}. */
export interface PostJsonOptions {
  /** Whole-request deadline. Default 30 s. */
  timeoutMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Largest accepted response body. Default 16 MiB. */
  maxResponseBytes?: number;
  /**
   * The request changes nothing, so the runtime may send it again by itself when a reused
   * keep-alive connection turns out to be closed. Default false: never sent twice.
   */
  idempotent?: boolean;
}

/** A response read to the end. */
export interface MtlsResponse {
  /** HTTP status code. */
  status: number;
  /** Response headers (lower-case names). */
  headers: IncomingHttpHeaders;
  /** The raw body. */
  body: Uint8Array;
}

/** How long a retired Agent may keep in-flight requests before it is destroyed. */
export const RETIRE_GRACE_MS = 120_000;

/** An mTLS client; get one from {@link createMtlsAgent}. */
export class MtlsAgent {
  readonly #options: MtlsAgentOptions;
  #agent: https.Agent;
  #closed = false;
  readonly #unsubscribe: () => void;
  readonly #retired = new Map<https.Agent, ReturnType<typeof setTimeout>>();

  /** @internal Use {@link createMtlsAgent}. */
  constructor(options: MtlsAgentOptions) {
    this.#options = options;
    this.#agent = this.#build();
    this.#unsubscribe = options.source.onUpdate(() => this.#rotate());
  }

  /** The current Agent: pass it to `https.request`. It changes on rotation. */
  get agent(): https.Agent {
    if (this.#closed) throw new Error("mtls agent: closed");
    return this.#agent;
  }

  #build(): https.Agent {
    const { source, authorizer } = this.#options;
    const svid = source.getX509Svid();
    return new https.Agent({
      keepAlive: true,
      maxSockets: this.#options.maxSockets,
      timeout: this.#options.idleTimeoutMs ?? 25_000,
      maxCachedSessions: 0,
      minVersion: "TLSv1.2",
      cert: certChainPem(svid),
      key: privateKeyPem(svid),
      ca: source.getBundles().allAuthoritiesPem(),
      rejectUnauthorized: true,
      // No host name check: the server is identified by its SPIFFE ID alone.
      checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
        try {
          const chain = peerCertificateChain(cert);
          const { id, verifiedChain } = verifyX509Svid(chain, source);
          authorizer(id, verifiedChain);
          return undefined;
        } catch (e) {
          return new TransportError("unauthorized", e);
        }
      },
    });
  }

  #rotate(): void {
    if (this.#closed) return;
    let next: https.Agent;
    try {
      next = this.#build();
    } catch (e) {
      this.#options.onError?.(
        new Error(`mtls agent: rotation failed, keeping the old SVID: ${errorMessage(e)}`),
      );
      return;
    }
    const old = this.#agent;
    this.#agent = next;
    this.#retire(old);
  }

  /** Closes the old Agent's idle sockets now, busy ones when done (or after a grace time). */
  #retire(old: https.Agent): void {
    for (const list of Object.values(old.freeSockets)) {
      for (const socket of list ?? []) socket.destroy();
    }
    old.on("free", (socket: { destroy(): void }) => socket.destroy());
    const timer = setTimeout(() => {
      this.#retired.delete(old);
      old.destroy();
    }, RETIRE_GRACE_MS);
    timer.unref();
    this.#retired.set(old, timer);
  }

  /**
   * POSTs `body` as JSON to an `https:` URL through the current Agent and reads the whole
   * response. Rejects with a {@link TransportError} on network, TLS, verification or
   * authorization failure, on timeout, and on an oversized response (its `kind` says which,
   * its message names the reason).
   */
  postJson(url: string, body: unknown, options: PostJsonOptions = {}): Promise<MtlsResponse> {
    return this.postBytes(url, new TextEncoder().encode(JSON.stringify(body)), {
      ...options,
      headers: { "content-type": "application/json", ...options.headers },
    });
  }

  /** POSTs raw bytes (set the content type in `options.headers`); otherwise as {@link postJson}. */
  postBytes(
    url: string,
    payload: Uint8Array,
    options: PostJsonOptions = {},
  ): Promise<MtlsResponse> {
    const target = new URL(url);
    if (target.protocol !== "https:") {
      return Promise.reject(new TypeError(`mtls agent: URL must be https: (got "${url}")`));
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    const maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
    const agent = this.agent;
    return new Promise((resolve, reject) => {
      let settled = false;
      // True once a TLS session carried (or may have carried) this request's bytes.
      let connected = false;
      const finish = (result: Error | MtlsResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result instanceof Error) reject(toTransportError(result, { unsent: !connected }));
        else resolve(result);
      };
      /** Cuts the request; the runtime must not send it again (see the module notes). */
      const abandon = () => {
        noReplay(req);
        req.destroy();
      };
      const req = https.request({
        protocol: "https:",
        hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: target.port || 443,
        path: target.pathname + target.search,
        method: "POST",
        agent,
        headers: { ...options.headers, "content-length": String(payload.length) },
      }, (res) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        res.on("data", (chunk: Uint8Array) => {
          size += chunk.length;
          if (size > maxBytes) {
            // Settle first, then cut: Deno rethrows an error passed to destroy() here.
            finish(
              new TransportError(
                "protocol",
                undefined,
                `mtls agent: response from ${url} exceeds ${maxBytes} bytes`,
              ),
            );
            abandon();
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          const out = new Uint8Array(size);
          let offset = 0;
          for (const c of chunks) {
            out.set(c, offset);
            offset += c.length;
          }
          finish({ status: res.statusCode ?? 0, headers: res.headers, body: out });
        });
        res.on("error", (e: Error) => finish(e));
      });
      const timer = setTimeout(() => {
        const error = new TransportError(
          "timeout",
          undefined,
          `mtls agent: request to ${url} timed out after ${timeoutMs} ms`,
        );
        // Settle here, not from the error event: on a reused keep-alive socket Deno's
        // node:https emits none after destroy() (lib/tls/client_test.ts), so callers hung.
        finish(error);
        abandon();
      }, timeoutMs);
      if (!options.idempotent) noReplay(req);
      req.on("socket", (socket) => {
        // A reused socket is connected already; a new one sends nothing before its handshake.
        if (req.reusedSocket) connected = true;
        else socket.once("secureConnect", () => connected = true);
      });
      req.on("error", (e: Error) => finish(e));
      req.end(payload);
    });
  }

  /** Stops following the source and destroys every Agent and connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const [old, timer] of this.#retired) {
      clearTimeout(timer);
      old.destroy();
    }
    this.#retired.clear();
    this.#agent.destroy();
  }
}

/** Turns off Deno's own re-send of `req` on a new connection (see the module notes). */
function noReplay(req: object): void {
  (req as { _retrying?: boolean })._retrying = true;
}

/** Creates an mTLS client for SPIFFE peers. Call {@link MtlsAgent.close} when done. */
export function createMtlsAgent(options: MtlsAgentOptions): MtlsAgent {
  return new MtlsAgent(options);
}
