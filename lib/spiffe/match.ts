/**
 * Matchers: plain predicates over SPIFFE IDs, as go-spiffe's `spiffeid.Match*`.
 * The TLS layer adapts them into authorizers (`lib/tls/authorize.ts`).
 *
 * @module
 */

import { parseSpiffeId, parseTrustDomain, type SpiffeId, type TrustDomain } from "./id.ts";

/** Decides whether an ID is acceptable. */
export type Matcher = (id: SpiffeId) => boolean;

function toId(id: SpiffeId | string): SpiffeId {
  return typeof id === "string" ? parseSpiffeId(id) : id;
}

/** Matches any ID. */
export function matchAny(): Matcher {
  return () => true;
}

/** Matches exactly one ID. */
export function matchId(expected: SpiffeId | string): Matcher {
  const want = toId(expected).toString();
  return (id) => id.toString() === want;
}

/** Matches any of the given IDs. */
export function matchOneOf(...expected: (SpiffeId | string)[]): Matcher {
  const wanted = new Set(expected.map((e) => toId(e).toString()));
  return (id) => wanted.has(id.toString());
}

/** Matches every ID of a trust domain. */
export function matchMemberOf(td: TrustDomain | string): Matcher {
  const name = typeof td === "string" ? parseTrustDomain(td).name : td.name;
  return (id) => id.trustDomain.name === name;
}

/**
 * Matches an ID equal to one of `bases` or below one (`base + "/"` is a prefix):
 * with base `.../a/b`, `.../a/b/pod-0` matches while `.../a/b-evil` does not.
 * (Role rules that admit replicas under a base ID are built on it.)
 */
export function matchIdOrBelow(...bases: (SpiffeId | string)[]): Matcher {
  const roots = bases.map((b) => toId(b).toString());
  return (id) => {
    const text = id.toString();
    return roots.some((root) => text === root || text.startsWith(root + "/"));
  };
}
