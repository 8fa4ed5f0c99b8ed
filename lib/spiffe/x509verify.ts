/**
 * Verifying a peer's X.509-SVID (go-spiffe's `x509svid.Verify`, plus the leaf rules it leaves to
 * `Parse`): leaf rules, the bundle of the leaf's own trust domain, then path building.
 * Synchronous, because it runs inside TLS callbacks.
 *
 * @module
 */

import type { X509BundleSource } from "./bundle.ts";
import type { SpiffeId } from "./id.ts";
import {
  checkCritical,
  checkLeaf,
  checkValidity,
  leafId,
  parseAuthority,
  parseCert,
  X509SvidError,
} from "./x509cert.ts";
import { buildPath, MAX_CHAIN_LENGTH } from "./x509path.ts";

/** Most certificates a peer may present. */
const MAX_PRESENTED = 2 * MAX_CHAIN_LENGTH;

/**
 * Verifies a peer's X.509-SVID chain (leaf first, then whatever intermediates it presented)
 * against the bundle of the leaf's own trust domain, and returns its SPIFFE ID and the
 * verified chain (leaf to root, DER). Synchronous.
 *
 * @throws {X509SvidError} with the reason, on any failure.
 */
export function verifyX509Svid(
  chain: readonly Uint8Array[],
  bundles: X509BundleSource,
  now: Date = new Date(),
): { id: SpiffeId; verifiedChain: Uint8Array[] } {
  if (chain.length === 0) throw new X509SvidError("empty certificates chain");
  if (chain.length > MAX_PRESENTED) {
    throw new X509SvidError(
      `${chain.length} certificates presented; at most ${MAX_PRESENTED} are accepted`,
    );
  }
  const leaf = parseCert(chain[0], "leaf certificate");
  const id = leafId(leaf);
  checkLeaf(leaf, id);
  const td = id.trustDomain;
  const bundle = bundles.getX509BundleForTrustDomain(td);
  if (!bundle) throw new X509SvidError(`no X.509 bundle found for trust domain "${td.name}"`);
  const validity = checkValidity(leaf, now);
  if (validity) throw validity;
  const critical = checkCritical(leaf);
  if (critical) throw critical;
  const intermediates = chain.slice(1).map((der, i) => parseCert(der, `certificate ${i + 1}`));
  const roots = bundle.authorities.map((der, i) =>
    parseAuthority(der, `root ${i} of trust domain "${td.name}"`)
  );
  const path = buildPath(leaf, intermediates, roots, now, td.name);
  return { id, verifiedChain: path.map((c) => c.der.slice()) };
}
