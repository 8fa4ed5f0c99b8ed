/**
 * X.509-SVIDs (standards/X509-SVID.md): parsing our own SVID, and verifying a peer's, with the
 * rules of go-spiffe's `svid/x509svid` plus the leaf rules it leaves to `Parse` (enforced on peers
 * too, as SPIRE never issues certificates that break them).
 *
 * Everything here is synchronous, because verification runs inside TLS callbacks. Extensions are
 * read with `@peculiar/x509` (parsing is synchronous); signatures are checked with
 * `node:crypto` `X509Certificate`.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import { parseSpiffeId, type SpiffeId, SpiffeIdError } from "./id.ts";
import { derToPem, pemToDer, readCertificates } from "./pem.ts";
import type { X509BundleSource } from "./bundle.ts";

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

/** An X.509-SVID with its private key, as used to present our own identity. */
export interface X509Svid {
  /** The SPIFFE ID from the leaf's URI SAN. */
  readonly id: SpiffeId;
  /** DER certificates, leaf first, then intermediates. */
  readonly certificates: readonly Uint8Array[];
  /** The leaf's private key, PKCS#8 DER. */
  readonly privateKey: Uint8Array;
  /** Workload API hint ("" when none). */
  readonly hint: string;
  /** The leaf's notAfter. */
  readonly notAfter: Date;
}

/** Longest accepted path: leaf, up to 6 intermediates, root. */
export const MAX_CHAIN_LENGTH = 8;
/** Most certificates a peer may present. */
const MAX_PRESENTED = 2 * MAX_CHAIN_LENGTH;
/**
 * Most issuer candidates (name match, then signature check) one verification may try, as Go's
 * `maxChainSignatureChecks`: crafted same-name, same-key CAs could otherwise make the path
 * search exponential, inside a synchronous TLS callback.
 */
const MAX_SIGNATURE_CHECKS = 100;

const KU = x509.KeyUsageFlags;
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

/** @internal A certificate with the facts verification needs. */
interface Cert {
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

function parseCert(der: Uint8Array, what: string): Cert {
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

function parseAuthority(der: Uint8Array, what: string): Cert {
  const cached = authorityCache.get(der);
  if (cached) return cached;
  const cert = parseCert(der, what);
  authorityCache.set(der, cert);
  return cert;
}

function leafId(leaf: Cert): SpiffeId {
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
function checkLeaf(leaf: Cert, id: SpiffeId): void {
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

/** Returns the SPIFFE ID in the certificate's one URI SAN. @throws {X509SvidError} */
export function idFromCertificate(der: Uint8Array): SpiffeId {
  return leafId(parseCert(der, "certificate"));
}

function checkValidity(cert: Cert, now: Date): X509SvidError | undefined {
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

function checkCritical(cert: Cert): X509SvidError | undefined {
  return cert.unhandledCritical.length === 0 ? undefined : new X509SvidError(
    `${cert.label} has unhandled critical extension(s) ${cert.unhandledCritical.join(", ")}`,
  );
}

interface Tlv {
  tag: number;
  content: Uint8Array;
}

/** Reads back-to-back DER TLVs (definite lengths only). */
function readTlvs(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    const tag = bytes[i++];
    if (i >= bytes.length) throw new Error("truncated");
    let len = bytes[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > bytes.length) throw new Error("bad length");
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + bytes[i++];
    }
    if (i + len > bytes.length) throw new Error("truncated");
    out.push({ tag, content: bytes.subarray(i, i + len) });
    i += len;
  }
  return out;
}

function hostMatches(host: string, constraint: string, uri: boolean): boolean {
  host = host.toLowerCase();
  constraint = constraint.toLowerCase();
  if (constraint === "") return true;
  if (constraint.startsWith(".")) return host.endsWith(constraint);
  return host === constraint || (!uri && host.endsWith("." + constraint));
}

/**
 * Enforces RFC 5280 name constraints of type URI (on the host, i.e. the trust domain of a
 * SPIFFE ID) and DNS on the leaf's names. Other constraint types are refused rather than
 * ignored. Returns a problem description, or undefined when the names are allowed.
 */
function checkNameConstraints(
  value: ArrayBuffer,
  uris: string[],
  dns: string[],
): string | undefined {
  const lists = {
    permitted: { uri: [] as string[], dns: [] as string[] },
    excluded: { uri: [] as string[], dns: [] as string[] },
  };
  try {
    const top = readTlvs(new Uint8Array(value));
    if (top.length !== 1 || top[0].tag !== 0x30) throw new Error("not a SEQUENCE");
    for (const part of readTlvs(top[0].content)) {
      if (part.tag !== 0xa0 && part.tag !== 0xa1) {
        throw new Error(`unexpected tag 0x${part.tag.toString(16)}`);
      }
      const list = part.tag === 0xa0 ? lists.permitted : lists.excluded;
      for (const subtree of readTlvs(part.content)) {
        const base = subtree.tag === 0x30 ? readTlvs(subtree.content)[0] : undefined;
        if (!base) throw new Error("malformed GeneralSubtree");
        const text = String.fromCharCode(...base.content);
        if (base.tag === 0x86) list.uri.push(text);
        else if (base.tag === 0x82) list.dns.push(text);
        else return `name constraints on GeneralName type [${base.tag & 0x1f}] are not supported`;
      }
    }
  } catch (e) {
    return `malformed name constraints extension: ${(e as Error).message}`;
  }
  const uriHosts = uris.map((u) => u.slice(u.indexOf("://") + 3).split("/")[0]);
  const check = (
    names: string[],
    permitted: string[],
    excluded: string[],
    uri: boolean,
    kind: string,
  ) => {
    for (const name of names) {
      if (permitted.length > 0 && !permitted.some((c) => hostMatches(name, c, uri))) {
        return `${kind} name "${name}" is outside the permitted name constraints`;
      }
      if (excluded.some((c) => hostMatches(name, c, uri))) {
        return `${kind} name "${name}" is excluded by name constraints`;
      }
    }
    return undefined;
  };
  return check(uriHosts, lists.permitted.uri, lists.excluded.uri, true, "URI host") ??
    check(dns, lists.permitted.dns, lists.excluded.dns, false, "DNS");
}

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

function sameDer(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Depth-first search for leaf → intermediates → one of `roots`. */
function buildPath(
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

function readPrivateKey(key: string | Uint8Array): KeyObject {
  try {
    const text = typeof key === "string"
      ? key
      : key.length > 0 && key[0] !== 0x30
      ? new TextDecoder().decode(key)
      : undefined;
    if (text === undefined) {
      return createPrivateKey({
        key: Buffer.from(key as Uint8Array),
        format: "der",
        type: "pkcs8",
      });
    }
    if (/-----BEGIN (EC|RSA) PRIVATE KEY-----/.test(text)) return createPrivateKey(text);
    const der = pemToDer(text, "PRIVATE KEY")[0];
    return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new X509SvidError(`cannot read private key: ${(e as Error).message}`);
  }
}

/**
 * Parses our own X.509-SVID (certificates leaf first, PEM or DER) and its private key (PKCS#8,
 * PEM or DER; SEC1/PKCS#1 PEM is converted), with go-spiffe's `Parse` rules.
 *
 * @throws {X509SvidError} naming the rule that failed.
 */
export function parseX509Svid(
  certs: string | Uint8Array | Uint8Array[],
  key: string | Uint8Array,
  hint = "",
): X509Svid {
  let ders: Uint8Array[];
  try {
    ders = Array.isArray(certs) ? certs.map((c) => c.slice()) : readCertificates(certs);
  } catch (e) {
    throw new X509SvidError(`cannot read certificates: ${(e as Error).message}`);
  }
  if (ders.length === 0) throw new X509SvidError("no certificates found");
  const leaf = parseCert(ders[0], "leaf certificate");
  const id = leafId(leaf);
  checkLeaf(leaf, id);
  ders.slice(1).forEach((der, i) => {
    const cert = parseCert(der, `intermediate certificate ${i + 1}`);
    if (!cert.isCA) {
      throw new X509SvidError(`${cert.label} is not a CA (basicConstraints CA=false)`);
    }
    if (cert.keyUsage === undefined || !(cert.keyUsage & KU.keyCertSign)) {
      throw new X509SvidError(`${cert.label} lacks the keyCertSign key usage`);
    }
  });
  const privateKey = readPrivateKey(key);
  const fromKey = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const fromCert = leaf.node.publicKey.export({ type: "spki", format: "der" });
  if (!sameDer(new Uint8Array(fromKey), new Uint8Array(fromCert))) {
    throw new X509SvidError("private key does not match the leaf certificate's public key");
  }
  const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  return Object.freeze({
    id,
    certificates: Object.freeze(ders),
    privateKey: pkcs8,
    hint,
    notAfter: leaf.notAfter,
  });
}

/** The SVID's certificates as PEM, leaf first (the `cert` option of node:tls). */
export function certChainPem(svid: X509Svid): string {
  return svid.certificates.map((c) => derToPem(c, "CERTIFICATE")).join("");
}

/** The SVID's private key as PKCS#8 PEM (the `key` option of node:tls). */
export function privateKeyPem(svid: X509Svid): string {
  return derToPem(svid.privateKey, "PRIVATE KEY");
}
