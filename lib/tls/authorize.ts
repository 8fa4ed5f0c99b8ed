/**
 * Authorizers decide, after a peer's X.509-SVID has been verified, whether its SPIFFE ID may
 * talk to us (go-spiffe's `tlsconfig.Authorizer`). They run inside TLS callbacks, so they are
 * synchronous: return to allow, throw {@link AuthorizationError} to refuse. Each one adapts a
 * matcher of `lib/spiffe/match.ts`, which says which IDs are acceptable.
 *
 * @module
 */

import { errorMessage } from "../std/errors.ts";
import { parseTrustDomain, type SpiffeId, type TrustDomain } from "../spiffe/id.ts";
import { matchAny, type Matcher, matchId, matchMemberOf, matchOneOf } from "../spiffe/match.ts";

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

/**
 * Turns a matcher of `lib/spiffe/match.ts` into an authorizer (go-spiffe's
 * `tlsconfig.AdaptMatcher`): IDs it matches are allowed, others refused with
 * `expected <description>` (e.g. `"a SPIKE Nexus ID"`). A matcher that throws refuses.
 */
export function adaptMatcher(matcher: Matcher, description: string): Authorizer {
  return (peer) => {
    let ok: boolean;
    try {
      ok = matcher(peer);
    } catch (e) {
      throw new AuthorizationError(peer, `check for ${description} failed: ${errorMessage(e)}`);
    }
    if (!ok) throw new AuthorizationError(peer, `expected ${description}`);
  };
}

/** Allows any peer whose SVID verified. */
export function authorizeAny(): Authorizer {
  return adaptMatcher(matchAny(), "any ID");
}

/**
 * Allows exactly `id`.
 * @throws {SpiffeIdError} at once when `id` is a string that is not a SPIFFE ID.
 */
export function authorizeID(id: SpiffeId | string): Authorizer {
  const matcher = matchId(id);
  return adaptMatcher(matcher, `"${id}"`);
}

/**
 * Allows any of `ids`.
 * @throws {SpiffeIdError} at once when one of them is not a SPIFFE ID.
 */
export function authorizeOneOf(...ids: (SpiffeId | string)[]): Authorizer {
  const matcher = matchOneOf(...ids);
  const list = [...new Set(ids.map(String))].map((s) => `"${s}"`).join(", ");
  return adaptMatcher(matcher, `one of ${list || "(none)"}`);
}

/**
 * Allows any ID in trust domain `td` (a name, `spiffe://<td>`, or a {@link TrustDomain}).
 * @throws {SpiffeIdError} at once when `td` is not a valid trust domain.
 */
export function authorizeMemberOf(td: TrustDomain | string): Authorizer {
  const domain = typeof td === "string" ? parseTrustDomain(td) : td;
  return adaptMatcher(matchMemberOf(domain), `a member of trust domain "${domain.name}"`);
}
