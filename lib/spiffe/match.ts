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
 * SPIKE's role rule: an ID has the role when it equals one of the role's base
 * IDs or lies below one (`base + "/"` is a prefix). So `.../spike/nexus/pod-0`
 * is a Nexus, while `.../spike/nexus-evil` is not.
 */
export function matchIdOrBelow(...bases: (SpiffeId | string)[]): Matcher {
  const roots = bases.map((b) => toId(b).toString());
  return (id) => {
    const text = id.toString();
    return roots.some((root) => text === root || text.startsWith(root + "/"));
  };
}
