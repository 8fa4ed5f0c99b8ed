/**
 * Reading one certificate for X.509-SVID rules: the facts verification needs (CA flag, path
 * length, key usage, SANs, validity, critical extensions, name constraints), read once with
 * `@peculiar/x509` (synchronous) and `node:crypto`, and the leaf rules that both our own SVID
 * and peers' must meet. Internal to `lib/spiffe`; the public surface is `x509svid.ts`.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate } from "node:crypto";
import { parseSpiffeId, type SpiffeId, SpiffeIdError } from "./id.ts";

/** Thrown when an SVID is malformed or a peer's SVID fails verification. */
export class X509SvidError extends Error {
  override name = "X509SvidError";
  /** What is wrong, without the `x509svid: ` prefix. */
  readonly reason: string;

  constructor(reason: string) {
    super(`x509svid: ${reason}`);
    this.reason = reason;
  }
}

/** Key usage bits. */
export const KU = x509.KeyUsageFlags;
const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  san: "2.5.29.17",
  ski: "2.5.29.14",
  aki: "2.5.29.35",
  certificatePolicies: "2.5.29.32",
  policyConstraints: "2.5.29.36",
  inhibitAnyPolicy: "2.5.29.54",
};
const NAME_CONSTRAINTS_OID = "2.5.29.30";
/** Critical extensions we understand; any other critical extension fails verification. */
const HANDLED_CRITICAL = new Set([...Object.values(OID), NAME_CONSTRAINTS_OID]);

/** A certificate with the facts verification needs. */
export interface Cert {
  readonly der: Uint8Array;
  readonly node: X509Certificate;
  readonly label: string;
  readonly issuerName: Uint8Array;
  readonly subjectName: Uint8Array;
  readonly isCA: boolean;
  readonly pathLen: number | undefined;
  readonly keyUsage: number | undefined;
  readonly uris: string[];
  readonly dnsNames: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly unhandledCritical: string[];
  readonly nameConstraints: ArrayBuffer | undefined;
}

// Parsed bundle authorities, keyed by the bundle's own (immutable) DER arrays.
const authorityCache = new WeakMap<Uint8Array, Cert>();

/** Reads `der`; `what` names it in errors. @throws {X509SvidError} */
export function parseCert(der: Uint8Array, what: string): Cert {
  let cert: x509.X509Certificate;
  let node: X509Certificate;
  try {
    cert = new x509.X509Certificate(new Uint8Array(der));
    node = new X509Certificate(der);
  } catch (e) {
    throw new X509SvidError(`${what} is not a valid X.509 certificate: ${(e as Error).message}`);
  }
  const seen = new Set<string>();
  for (const ext of cert.extensions) {
    if (seen.has(ext.type)) throw new X509SvidError(`${what} has duplicate extension ${ext.type}`);
    seen.add(ext.type);
  }
  let bc: x509.BasicConstraintsExtension | null;
  let ku: x509.KeyUsagesExtension | null;
  let san: x509.SubjectAlternativeNameExtension | null;
  try {
    bc = cert.getExtension(x509.BasicConstraintsExtension);
    ku = cert.getExtension(x509.KeyUsagesExtension);
    san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  } catch (e) {
    throw new X509SvidError(`${what} has a malformed extension: ${(e as Error).message}`);
  }
  const names = san?.names.items ?? [];
  const nc = cert.extensions.find((e) => e.type === NAME_CONSTRAINTS_OID);
  return {
    der,
    node,
    label: `${what} (subject "${cert.subject}")`,
    issuerName: new Uint8Array(cert.issuerName.toArrayBuffer()),
    subjectName: new Uint8Array(cert.subjectName.toArrayBuffer()),
    isCA: bc?.ca ?? false,
    pathLen: bc?.pathLength,
    keyUsage: ku?.usages,
    uris: names.filter((n) => n.type === "url").map((n) => n.value),
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    unhandledCritical: cert.extensions.filter((e) => e.critical && !HANDLED_CRITICAL.has(e.type))
      .map((e) => e.type),
    nameConstraints: nc?.value,
  };
}

/** {@link parseCert} for a bundle authority, cached per DER array. */
export function parseAuthority(der: Uint8Array, what: string): Cert {
  const cached = authorityCache.get(der);
  if (cached) return cached;
  const cert = parseCert(der, what);
  authorityCache.set(der, cert);
  return cert;
}

/** The SPIFFE ID in the leaf's one URI SAN. @throws {X509SvidError} */
export function leafId(leaf: Cert): SpiffeId {
  if (leaf.uris.length === 0) throw new X509SvidError("certificate contains no URI SAN");
  if (leaf.uris.length > 1) throw new X509SvidError("certificate contains more than one URI SAN");
  try {
    return parseSpiffeId(leaf.uris[0]);
  } catch (e) {
    if (e instanceof SpiffeIdError) {
      throw new X509SvidError(`certificate URI SAN is not a SPIFFE ID: ${e.message}`);
    }
    throw e;
  }
}

/** Leaf rules shared by our own SVID and peers' (CA flag, key usage, path). */
export function checkLeaf(leaf: Cert, id: SpiffeId): void {
  if (leaf.isCA) throw new X509SvidError("leaf certificate with CA flag set to true");
  if (leaf.keyUsage === undefined) {
    throw new X509SvidError(
      "leaf certificate has no key usage extension (digitalSignature required)",
    );
  }
  if (leaf.keyUsage & KU.keyCertSign) {
    throw new X509SvidError("leaf certificate with KeyCertSign key usage");
  }
  if (leaf.keyUsage & KU.cRLSign) {
    throw new X509SvidError("leaf certificate with KeyCrlSign key usage");
  }
  if (!(leaf.keyUsage & KU.digitalSignature)) {
    throw new X509SvidError("leaf certificate must have 'digitalSignature' set as key usage");
  }
  if (id.isTrustDomainId()) {
    throw new X509SvidError(
      `leaf certificate SPIFFE ID "${id}" has no path; a workload ID needs one`,
    );
  }
}

/** A problem when `now` is outside the certificate's validity. */
export function checkValidity(cert: Cert, now: Date): X509SvidError | undefined {
  if (now < cert.notBefore) {
    return new X509SvidError(
      `${cert.label} is not yet valid: notBefore ${cert.notBefore.toISOString()} is after ` +
        `now ${now.toISOString()}`,
    );
  }
  if (now > cert.notAfter) {
    return new X509SvidError(
      `${cert.label} has expired: notAfter ${cert.notAfter.toISOString()} is before ` +
        `now ${now.toISOString()}`,
    );
  }
  return undefined;
}

/** A problem when the certificate has a critical extension we do not handle. */
export function checkCritical(cert: Cert): X509SvidError | undefined {
  return cert.unhandledCritical.length === 0 ? undefined : new X509SvidError(
    `${cert.label} has unhandled critical extension(s) ${cert.unhandledCritical.join(", ")}`,
  );
}

/** Byte equality of two DER encodings. */
export function sameDer(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
