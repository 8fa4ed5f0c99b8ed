/**
 * Authorizers decide, after a peer's X.509-SVID has been verified, whether its SPIFFE ID may
 * talk to us (go-spiffe's `tlsconfig.Authorizer`). They run inside TLS callbacks, so they are
 * synchronous: return to allow, throw {@link AuthorizationError} to refuse.
 *
 * @module
 */

import { parseSpiffeId, parseTrustDomain, type SpiffeId, type TrustDomain } from "../spiffe/id.ts";

/** Thrown by an {@link Authorizer} that refuses a peer. */
export class AuthorizationError extends Error {
  override name = "AuthorizationError";
  /** The refused peer. */
  readonly id: SpiffeId;

  /** Message: `unauthorized SPIFFE ID "<id>": <detail>`. */
  constructor(id: SpiffeId, detail: string) {
    super(`unauthorized SPIFFE ID "${id}": ${detail}`);
    this.id = id;
  }
}

/**
 * Allows or refuses a verified peer. `verifiedChain` is leaf to root, DER.
 * @throws {AuthorizationError} to refuse.
 */
export type Authorizer = (id: SpiffeId, verifiedChain: readonly Uint8Array[]) => void;

function toId(id: SpiffeId | string): SpiffeId {
  return typeof id === "string" ? parseSpiffeId(id) : id;
}

/** Allows any peer whose SVID verified. */
export function authorizeAny(): Authorizer {
  return () => {};
}

/**
 * Allows exactly `id`.
 * @throws {SpiffeIdError} at once when `id` is a string that is not a SPIFFE ID.
 */
export function authorizeID(id: SpiffeId | string): Authorizer {
  const expected = toId(id).toString();
  return (peer) => {
    if (peer.toString() !== expected) {
      throw new AuthorizationError(peer, `expected "${expected}"`);
    }
  };
}

/**
 * Allows any of `ids`.
 * @throws {SpiffeIdError} at once when one of them is not a SPIFFE ID.
 */
export function authorizeOneOf(...ids: (SpiffeId | string)[]): Authorizer {
  const allowed = new Set(ids.map((id) => toId(id).toString()));
  const list = [...allowed].map((s) => `"${s}"`).join(", ");
  return (peer) => {
    if (!allowed.has(peer.toString())) {
      throw new AuthorizationError(peer, `expected one of ${list || "(none)"}`);
    }
  };
}

/**
 * Allows any ID in trust domain `td` (a name, `spiffe://<td>`, or a {@link TrustDomain}).
 * @throws {SpiffeIdError} at once when `td` is not a valid trust domain.
 */
export function authorizeMemberOf(td: TrustDomain | string): Authorizer {
  const domain = typeof td === "string" ? parseTrustDomain(td) : td;
  return (peer) => {
    if (!peer.memberOf(domain)) {
      throw new AuthorizationError(peer, `expected a member of trust domain "${domain.name}"`);
    }
  };
}

/**
 * Allows IDs for which `predicate` returns true; `description` names the rule in refusals
 * (e.g. `"a SPIKE Nexus ID"`). A predicate that throws refuses.
 */
export function authorizeMatching(
  predicate: (id: SpiffeId) => boolean,
  description: string,
): Authorizer {
  return (peer) => {
    let ok: boolean;
    try {
      ok = predicate(peer);
    } catch (e) {
      throw new AuthorizationError(
        peer,
        `check for ${description} failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (!ok) throw new AuthorizationError(peer, `expected ${description}`);
  };
}
