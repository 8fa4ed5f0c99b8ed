/**
 * Verifying the peer of one TLS connection (the server side of go-spiffe's mTLS): its presented
 * chain is verified against the bundle of its own trust domain and authorized by SPIFFE ID, and
 * the verified ID is remembered per socket so that requests can be tied to it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { errorMessage } from "../std/errors.ts";
import type { SpiffeId } from "../spiffe/id.ts";
import type { X509Source } from "../spiffe/source.ts";
import { idFromCertificate, MAX_CHAIN_LENGTH, verifyX509Svid } from "../spiffe/x509svid.ts";
import type { Authorizer } from "./authorize.ts";

// Verified peer of each TLS socket. A request whose socket is missing here is refused.
const verifiedPeers = new WeakMap<object, SpiffeId>();

/** The verified SPIFFE ID of the peer that sent `req`, or undefined (then refuse it). */
export function peerIdOf(req: IncomingMessage): SpiffeId | undefined {
  return verifiedPeers.get(req.socket);
}

/**
 * The DER chain a TLS peer presented, leaf first, from a `getPeerCertificate(true)` result
 * (walks `issuerCertificate`; stops at a self-issued certificate or after a bounded length).
 * Empty when there is no certificate.
 */
export function peerCertificateChain(cert: PeerCertificate | undefined): Uint8Array[] {
  const out: Uint8Array[] = [];
  let current: PeerCertificate | undefined = cert;
  const seen = new Set<PeerCertificate>();
  while (current && current.raw && !seen.has(current) && out.length < MAX_CHAIN_LENGTH + 2) {
    seen.add(current);
    out.push(new Uint8Array(current.raw));
    const next: PeerCertificate | undefined = (current as { issuerCertificate?: PeerCertificate })
      .issuerCertificate;
    if (next && next.raw && Buffer.compare(next.raw, current.raw) === 0) break;
    current = next;
  }
  return out;
}

/** Thrown by {@link verifyPeer}; `claimed` is the ID the peer's leaf names, if readable. */
export class PeerRefusedError extends Error {
  override name = "PeerRefusedError";

  constructor(message: string, readonly claimed: string | undefined) {
    super(message);
  }
}

function claimedId(chain: Uint8Array[]): string | undefined {
  if (chain.length === 0) return undefined;
  try {
    return idFromCertificate(chain[0]).toString();
  } catch {
    return undefined;
  }
}

/**
 * Verifies and authorizes the peer of a freshly secured connection, from its chain and the
 * bundles current now (never from `socket.authorized` alone: resumed sessions report it
 * without a fresh check), and remembers its ID for {@link peerIdOf}.
 *
 * @throws {PeerRefusedError} naming the reason; the caller must destroy the socket.
 */
export function verifyPeer(
  socket: TLSSocket,
  source: X509Source,
  authorizer: Authorizer,
): SpiffeId {
  let chain: Uint8Array[] = [];
  try {
    chain = peerCertificateChain(socket.getPeerCertificate(true));
    if (chain.length === 0) throw new Error("client presented no certificate");
    const { id, verifiedChain } = verifyX509Svid(chain, source);
    if (!socket.authorized) {
      // Our verifier accepted a chain the TLS stack did not: refuse rather than guess.
      throw new Error(`TLS stack did not verify the chain: ${socket.authorizationError}`);
    }
    authorizer(id, verifiedChain);
    verifiedPeers.set(socket, id);
    return id;
  } catch (e) {
    throw new PeerRefusedError(errorMessage(e), claimedId(chain));
  }
}
