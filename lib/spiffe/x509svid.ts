/**
 * X.509-SVIDs (`standards/X509-SVID.md` in github.com/spiffe/spiffe): parsing our own SVID with go-spiffe's `Parse` rules and
 * writing it out for node:tls. This is the public face of the X.509-SVID modules: verification
 * of a peer's SVID (`x509verify.ts`, path building in `x509path.ts`) and the error type are
 * re-exported here.
 *
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { Buffer } from "node:buffer";
import type { SpiffeId } from "./id.ts";
import { derToPem, pemToDer, readCertificates } from "./pem.ts";
import { checkLeaf, KU, leafId, parseCert, sameDer, X509SvidError } from "./x509cert.ts";

export { X509SvidError } from "./x509cert.ts";
export { MAX_CHAIN_LENGTH } from "./x509path.ts";
export { verifyX509Svid } from "./x509verify.ts";

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

/** Returns the SPIFFE ID in the certificate's one URI SAN. @throws {X509SvidError} */
export function idFromCertificate(der: Uint8Array): SpiffeId {
  return leafId(parseCert(der, "certificate"));
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
