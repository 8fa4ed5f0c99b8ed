/**
 * X.509 trust bundles: the root certificates (authorities) of one trust domain, and a set of
 * bundles keyed by trust domain, as in go-spiffe's `bundle/x509bundle`. Bundles of different
 * trust domains are never merged: a peer is verified only against the bundle of its own trust
 * domain.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { derToPem, readCertificates } from "./pem.ts";
import type { TrustDomain } from "./id.ts";

/** Thrown when bundle input is not a list of certificates. */
export class X509BundleError extends Error {
  override name = "X509BundleError";
}

function keyOf(der: Uint8Array): string {
  let s = "";
  for (let i = 0; i < der.length; i++) s += String.fromCharCode(der[i]);
  return s;
}

/** The X.509 authorities (root CA certificates, DER) of one trust domain. Immutable. */
export class X509Bundle {
  /** The trust domain whose SVIDs these authorities vouch for. */
  readonly trustDomain: TrustDomain;
  /** DER certificates, deduplicated, in input order. Do not mutate. */
  readonly authorities: readonly Uint8Array[];

  /**
   * Builds a bundle from DER certificates; duplicates are dropped.
   * @throws {X509BundleError} when an element is not an X.509 certificate.
   */
  constructor(trustDomain: TrustDomain, authorities: Iterable<Uint8Array>) {
    const seen = new Set<string>();
    const list: Uint8Array[] = [];
    let index = 0;
    for (const der of authorities) {
      try {
        new x509.X509Certificate(new Uint8Array(der));
      } catch (e) {
        throw new X509BundleError(
          `x509bundle: authority ${index} for trust domain "${trustDomain.name}" is not an ` +
            `X.509 certificate: ${(e as Error).message}`,
        );
      }
      index++;
      const key = keyOf(der);
      if (seen.has(key)) continue;
      seen.add(key);
      list.push(der.slice());
    }
    this.trustDomain = trustDomain;
    this.authorities = Object.freeze(list);
  }

  /**
   * Parses authorities given as PEM (text or bytes) or concatenated DER (as the Workload API
   * sends them). Zero-length bytes give an empty bundle, which trusts nothing.
   * @throws {X509BundleError} on malformed input or a non-certificate.
   */
  static parse(trustDomain: TrustDomain, pemOrDer: string | Uint8Array): X509Bundle {
    if (pemOrDer instanceof Uint8Array && pemOrDer.length === 0) {
      return new X509Bundle(trustDomain, []);
    }
    let ders: Uint8Array[];
    try {
      ders = readCertificates(pemOrDer);
    } catch (e) {
      throw new X509BundleError(
        `x509bundle: cannot read authorities for trust domain "${trustDomain.name}": ${
          (e as Error).message
        }`,
      );
    }
    return new X509Bundle(trustDomain, ders);
  }

  /** True when `der` is one of the authorities (byte equality). */
  hasAuthority(der: Uint8Array): boolean {
    const key = keyOf(der);
    return this.authorities.some((a) => a.length === der.length && keyOf(a) === key);
  }

  /** The authorities as concatenated PEM `CERTIFICATE` blocks ("" when empty). */
  toPem(): string {
    return this.authorities.map((a) => derToPem(a, "CERTIFICATE")).join("");
  }
}

/** Anything that can hand out the bundle of a trust domain (a bundle set, an X509Source). */
export interface X509BundleSource {
  /** The bundle for `td`, or undefined when this source has none. */
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined;
}

/**
 * Bundles of several trust domains (one's own plus federated ones), at most one per trust
 * domain. Adding a bundle for a trust domain already present replaces it; nothing is merged.
 */
export class X509BundleSet implements X509BundleSource {
  readonly #bundles = new Map<string, X509Bundle>();

  /** Builds a set; when two bundles name the same trust domain, the later one wins. */
  constructor(bundles: X509Bundle[] = []) {
    for (const b of bundles) this.#bundles.set(b.trustDomain.name, b);
  }

  /** The bundle for `td`, or undefined. */
  get(td: TrustDomain): X509Bundle | undefined {
    return this.#bundles.get(td.name);
  }

  /** True when the set has a bundle for `td`. */
  has(td: TrustDomain): boolean {
    return this.#bundles.has(td.name);
  }

  /** Same as {@link X509BundleSet.get}; implements {@link X509BundleSource}. */
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.get(td);
  }

  /** All bundles, sorted by trust domain name. */
  bundles(): X509Bundle[] {
    return [...this.#bundles.values()].sort((a, b) =>
      a.trustDomain.name < b.trustDomain.name ? -1 : a.trustDomain.name > b.trustDomain.name ? 1 : 0
    );
  }

  /**
   * Every authority of every bundle as one PEM certificate each. Meant only for a TLS stack's
   * `ca` option; pooled roots must never be used to decide trust on their own.
   */
  allAuthoritiesPem(): string[] {
    return this.bundles().flatMap((b) => b.authorities.map((a) => derToPem(a, "CERTIFICATE")));
  }
}
