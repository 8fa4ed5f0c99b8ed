/**
 * Path building for X.509-SVID verification: a bounded depth-first search from the leaf through
 * the presented intermediates to a root of the bundle, checking each issuer (validity, CA flag,
 * keyCertSign, pathLen, critical extensions, name constraints) and its signature.
 *
 * @module
 */

import { type Cert, checkCritical, checkValidity, KU, sameDer, X509SvidError } from "./x509cert.ts";
import { checkNameConstraints } from "./x509constraints.ts";

/** Longest accepted path: leaf, up to 6 intermediates, root. */
export const MAX_CHAIN_LENGTH = 8;
/**
 * Most issuer candidates (name match, then signature check) one verification may try, as Go's
 * `maxChainSignatureChecks`: crafted same-name, same-key CAs could otherwise make the path
 * search exponential, inside a synchronous TLS callback.
 */
const MAX_SIGNATURE_CHECKS = 100;

/** Checks a CA certificate placed above `below` (leaf first) in a candidate path. */
function checkIssuer(
  ca: Cert,
  below: Cert[],
  isRoot: boolean,
  now: Date,
): X509SvidError | undefined {
  const expired = checkValidity(ca, now);
  if (expired) return expired;
  if (!ca.isCA) return new X509SvidError(`${ca.label} is not a CA (basicConstraints CA=false)`);
  const mustHaveKeyUsage = !isRoot; // roots may omit keyUsage (RFC 5280 trust anchors)
  if (
    (ca.keyUsage === undefined && mustHaveKeyUsage) ||
    (ca.keyUsage !== undefined && !(ca.keyUsage & KU.keyCertSign))
  ) {
    return new X509SvidError(`${ca.label} lacks the keyCertSign key usage`);
  }
  const intermediatesBelow = below.length - 1;
  if (ca.pathLen !== undefined && intermediatesBelow > ca.pathLen) {
    return new X509SvidError(
      `${ca.label} allows ${ca.pathLen} intermediate(s) below it (pathLen) but the path has ` +
        `${intermediatesBelow}`,
    );
  }
  const critical = checkCritical(ca);
  if (critical) return critical;
  if (ca.nameConstraints) {
    const leaf = below[0];
    const err = checkNameConstraints(ca.nameConstraints, leaf.uris, leaf.dnsNames);
    if (err) return new X509SvidError(`${ca.label}: ${err}`);
  }
  return undefined;
}

/** True when `parent`'s subject is `child`'s issuer and its key verifies `child`'s signature. */
function signedBy(child: Cert, parent: Cert): boolean {
  // Not node's checkIssued: it also refuses issuers without keyCertSign, which would hide the
  // precise reason that checkIssuer gives.
  if (!sameDer(child.issuerName, parent.subjectName)) return false;
  try {
    return child.node.verify(parent.node.publicKey);
  } catch {
    return false;
  }
}

/**
 * Depth-first search for leaf → intermediates → one of `roots`; returns the path, leaf first.
 * @throws {X509SvidError} with the first problem met, or "unknown authority".
 */
export function buildPath(
  leaf: Cert,
  intermediates: Cert[],
  roots: Cert[],
  now: Date,
  td: string,
): Cert[] {
  let firstProblem: X509SvidError | undefined;
  let checks = 0;
  const issues = (parent: Cert, child: Cert): boolean => {
    if (!sameDer(child.issuerName, parent.subjectName)) return false;
    if (++checks > MAX_SIGNATURE_CHECKS) {
      throw new X509SvidError(
        `gave up after ${MAX_SIGNATURE_CHECKS} signature checks (too many candidate issuers)`,
      );
    }
    return signedBy(child, parent);
  };
  const search = (path: Cert[]): Cert[] | undefined => {
    const child = path[path.length - 1];
    for (const root of roots) {
      if (!issues(root, child)) continue;
      const problem = checkIssuer(root, path, true, now);
      if (!problem) return [...path, root];
      firstProblem ??= problem;
    }
    if (path.length + 1 >= MAX_CHAIN_LENGTH) {
      firstProblem ??= new X509SvidError(
        `no path of at most ${MAX_CHAIN_LENGTH} certificates found`,
      );
      return undefined;
    }
    for (const candidate of intermediates) {
      if (path.some((c) => sameDer(c.der, candidate.der))) continue;
      if (!issues(candidate, child)) continue;
      const problem = checkIssuer(candidate, path, false, now);
      if (problem) {
        firstProblem ??= problem;
        continue;
      }
      const found = search([...path, candidate]);
      if (found) return found;
    }
    return undefined;
  };
  const found = search([leaf]);
  if (found) return found;
  throw firstProblem ??
    new X509SvidError(
      `certificate signed by unknown authority: no chain from the leaf to a root in the bundle ` +
        `of trust domain "${td}"`,
    );
}
