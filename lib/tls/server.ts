/**
 * An HTTPS server that only talks to SPIFFE peers (go-spiffe's `MTLSServerConfig` on
 * `node:https`): it requires a client X.509-SVID, verifies it against the bundle of the
 * client's own trust domain, authorizes its SPIFFE ID before any HTTP request is read, and
 * follows SVID and bundle rotation without a restart.
 *
 * Facts about Deno 2.9.6's `node:https`/`node:tls` this relies on (measured, see the tests):
 * - With `requestCert: true, rejectUnauthorized: false` the server still requests the client
 *   certificate, the handshake completes without one, and `getPeerCertificate(true)` exposes
 *   the presented chain through `issuerCertificate` (leaf, presented intermediates, then
 *   possibly a root the TLS stack found in `ca`).
 * - `socket.authorized` cannot be trusted alone: the server resumes TLS 1.2 and 1.3 sessions
 *   (`sessionTimeout: 0` and `SSL_OP_NO_TICKET` do not stop it; neither does
 *   `setSecureContext`), a resumed connection reads `authorized: true` even when the first
 *   handshake's chain was unverified, and `getPeerCertificate(true)` returns the chain
 *   remembered from that first handshake. So every connection, resumed or not, is verified
 *   here from the peer chain against the bundles current at that moment (a resumed session
 *   whose root was rotated out of the bundle is refused).
 * - `secureConnection` listeners run before the HTTP layer (which is itself a
 *   `secureConnection` listener): a prepended listener that destroys the socket stops any
 *   request from reaching the handler.
 * - `setSecureContext({key, cert, ca, ...})` works: new connections get the new certificate.
 * - Omitting `ca` makes Deno want system CA access; an empty array works.
 * - `headersTimeout`/`requestTimeout` are honoured (a 408, then close) but only checked every
 *   `connectionsCheckingInterval` (default 30 s), so that interval is set below. The idle
 *   keep-alive timeout (`keepAliveTimeout`) and `handshakeTimeout` are honoured. A request
 *   head above `maxHeaderSize` gets the connection closed (no 431). TLS 1.1 is refused.
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { errorMessage } from "../std/errors.ts";
import type { SpiffeId } from "../spiffe/id.ts";
import type { X509Source } from "../spiffe/source.ts";
import { certChainPem, privateKeyPem } from "../spiffe/x509svid.ts";
import type { Authorizer } from "./authorize.ts";
import { ConnectionTracker } from "./connections.ts";
import { peerIdOf, PeerRefusedError, verifyPeer } from "./peer.ts";

export { peerCertificateChain, peerIdOf } from "./peer.ts";

/** Handles one request from a verified, authorized peer. */
export type MtlsHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  peer: SpiffeId,
) => void | Promise<void>;

/** Options for {@link createMtlsServer}. */
export interface MtlsServerOptions {
  /** Our SVID and the bundles that peers are verified against. */
  source: X509Source;
  /** Decides which verified peers may connect; runs once per connection. */
  authorizer: Authorizer;
  /** Request handler; gets the caller's SPIFFE ID. Errors become a 500 (and `onError`). */
  handler: MtlsHandler;
  /** Time allowed to receive a request's headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time allowed to receive a whole request. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept. Default 30 s. */
  idleTimeoutMs?: number;
  /** Time allowed for the TLS handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Largest accepted request head, in bytes. Default 16 KiB. */
  maxHeaderSize?: number;
  /** Most open connections in all (0: no cap). Default {@link DEFAULT_CAPS}. */
  maxConnections?: number;
  /** Most open connections from one IP address (0: no cap). Default {@link DEFAULT_CAPS}. */
  maxConnectionsPerAddress?: number;
  /** Told about every refused connection or request (`peer`: the claimed ID, if known). */
  onRefused?: (reason: string, peer?: string) => void;
  /** Told about handler failures and failed certificate rotations. */
  onError?: (error: Error) => void;
}

/** A running (or not yet listening) mTLS server. */
export interface MtlsServer {
  /** Starts listening; port 0 picks a free port. Resolves with the bound port. */
  listen(port: number, hostname: string): Promise<{ port: number }>;
  /**
   * Stops accepting, closes idle connections at once, lets in-flight requests finish (at most
   * {@link CLOSE_GRACE_MS}, then every connection is cut), and stops following the source.
   */
  close(): Promise<void>;
}

/**
 * Connection caps unless told otherwise: enough for a fleet behind one load balancer
 * address, few enough that idle sockets cannot exhaust the process's file descriptors.
 */
export const DEFAULT_CAPS = { total: 4096, perAddress: 1024 } as const;

/** Upper bound on how long {@link MtlsServer.close} waits for in-flight requests. */
export const CLOSE_GRACE_MS = 5_000;

/** Our certificate, key and the pooled roots, as `node:tls` wants them; read again on rotation. */
function secureContext(source: X509Source) {
  const svid = source.getX509Svid();
  return {
    key: privateKeyPem(svid),
    cert: certChainPem(svid),
    // Pooled roots only let the TLS stack request and pre-check certificates; trust is
    // decided per trust domain by verifyPeer.
    ca: source.getBundles().allAuthoritiesPem(),
    minVersion: "TLSv1.2" as const,
  };
}

/** The `https.createServer` options: client certificates requested, limits and timeouts. */
function serverOptions(options: MtlsServerOptions): https.ServerOptions {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  return {
    ...secureContext(options.source),
    requestCert: true,
    // We verify ourselves (see module notes); the handshake must not depend on pooled roots.
    rejectUnauthorized: false,
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
    headersTimeout,
    requestTimeout: options.requestTimeoutMs ?? 60_000,
    // Header and request timeouts are only checked this often (Node's default: every 30 s,
    // which would let a 10 s header timeout run for 40 s; Deno behaves the same).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeout / 2)),
  };
}

/** Creates an mTLS HTTPS server; call {@link MtlsServer.listen} to start it. */
export function createMtlsServer(options: MtlsServerOptions): MtlsServer {
  const { source, authorizer, handler } = options;
  const refuse = (reason: string, peer?: string) => {
    try {
      options.onRefused?.(reason, peer);
    } catch { /* a logging hook must not break the server */ }
  };
  const reportError = (e: unknown) => {
    try {
      options.onError?.(e instanceof Error ? e : new Error(String(e)));
    } catch { /* idem */ }
  };
  const connections = new ConnectionTracker({
    total: options.maxConnections ?? DEFAULT_CAPS.total,
    perAddress: options.maxConnectionsPerAddress ?? DEFAULT_CAPS.perAddress,
  });

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TLSSocket;
    const peer = peerIdOf(req);
    if (!peer) {
      // Fail closed: never hand a request from an unverified connection to the handler.
      refuse("request on a connection without a verified SPIFFE ID");
      socket.destroy();
      return;
    }
    connections.started(socket, res);
    const fail = (e: unknown) => {
      reportError(e);
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain", connection: "close" });
        res.end("internal error\n");
      } else {
        socket.destroy();
      }
    };
    try {
      const result = handler(req, res, peer);
      if (result instanceof Promise) result.catch(fail);
    } catch (e) {
      fail(e);
    }
  };

  const config = serverOptions(options);
  const server = https.createServer(config, onRequest);
  server.headersTimeout = config.headersTimeout!;
  server.requestTimeout = config.requestTimeout!;
  server.keepAliveTimeout = options.idleTimeoutMs ?? 30_000;

  server.on("connection", (socket: Socket) => {
    const over = connections.accepted(socket);
    if (!over) return;
    // Closed before the handshake: the peer costs no TLS work and learns nothing.
    socket.destroy();
    refuse(
      over === "total"
        ? `too many connections (${connections.caps.total} open)`
        : `too many connections from ${socket.remoteAddress} ` +
          `(${connections.caps.perAddress} open)`,
    );
  });
  server.on("tlsClientError", (err: Error) => refuse(`TLS handshake failed: ${err.message}`));
  // Prepended: runs before the HTTP layer's own listener, so a refused peer sends nothing.
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    if (connections.closing) {
      socket.destroy();
      return;
    }
    try {
      verifyPeer(socket, source, authorizer);
      connections.verified(socket);
    } catch (e) {
      refuse(errorMessage(e), e instanceof PeerRefusedError ? e.claimed : undefined);
      socket.destroy();
    }
  });

  const unsubscribe = source.onUpdate(() => {
    try {
      server.setSecureContext(secureContext(source));
    } catch (e) {
      reportError(
        new Error(`mtls server: rotation failed, keeping the old certificate: ${errorMessage(e)}`),
      );
    }
  });

  let closed: Promise<void> | undefined;
  return {
    listen(port: number, hostname: string): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once("error", onError);
        server.listen(port, hostname, () => {
          server.off("error", onError);
          const address = server.address();
          resolve({ port: typeof address === "object" && address ? address.port : port });
        });
      });
    },
    close(): Promise<void> {
      if (closed) return closed;
      unsubscribe();
      closed = new Promise<void>((resolve) => {
        const cancelCut = connections.beginClose(CLOSE_GRACE_MS);
        server.close(() => {
          cancelCut();
          resolve();
        });
        connections.closeIdle();
      });
      return closed;
    },
  };
}
