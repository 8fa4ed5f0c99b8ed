/**
 * The dev agent's certificate authority: one self-signed ECDSA P-256 root per
 * trust domain, kept in the agent's data folder (`ca.pem`, and `ca.key` with
 * mode 0600) so SVIDs stay valid across agent restarts, and leaf X.509-SVIDs
 * that follow the X509-SVID spec (one URI SAN, CA=false, digitalSignature).
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { join } from "node:path";
import type { SpiffeId, TrustDomain } from "../../lib/spiffe/id.ts";
import { pathExists } from "../../lib/std/fs.ts";

x509.cryptoProvider.set(crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CA_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** Leaves start a little in the past so that small clock skew does not reject them. */
const BACKDATE_MS = 60 * 1000;

/** A freshly issued SVID, ready for the Workload API. */
export interface IssuedSvid {
  /** DER certificates, leaf first. */
  certificates: Uint8Array[];
  /** PKCS#8 DER private key. */
  privateKey: Uint8Array;
  notAfter: Date;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // keep the serial positive
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A trust domain's signing authority. */
export class LocalCa {
  readonly trustDomain: TrustDomain;
  readonly certificate: x509.X509Certificate;
  readonly #signingKey: CryptoKey;

  private constructor(td: TrustDomain, certificate: x509.X509Certificate, signingKey: CryptoKey) {
    this.trustDomain = td;
    this.certificate = certificate;
    this.#signingKey = signingKey;
  }

  /** The root certificate as DER (the trust bundle of this trust domain). */
  get bundleDer(): Uint8Array {
    return new Uint8Array(this.certificate.rawData);
  }

  /**
   * Loads the CA from `dir` or makes a new one there. A CA that has expired,
   * or names another trust domain, is replaced (its files are overwritten).
   */
  static async loadOrCreate(dir: string, td: TrustDomain): Promise<LocalCa> {
    const certPath = join(dir, "ca.pem");
    const keyPath = join(dir, "ca.key");
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    if (await pathExists(certPath) && await pathExists(keyPath)) {
      const certificate = new x509.X509Certificate(await Deno.readTextFile(certPath));
      const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
      const uris = san?.names.items.filter((n) => n.type === "url").map((n) => n.value) ?? [];
      const fresh = certificate.notAfter.getTime() > Date.now() + 24 * 3600 * 1000;
      if (fresh && uris.length === 1 && uris[0] === td.idString()) {
        const keyDer = x509.PemConverter.decode(await Deno.readTextFile(keyPath))[0];
        const key = await crypto.subtle.importKey("pkcs8", keyDer, ALG, false, ["sign"]);
        return new LocalCa(td, certificate, key);
      }
    }
    return await LocalCa.#create(certPath, keyPath, td);
  }

  static async #create(certPath: string, keyPath: string, td: TrustDomain): Promise<LocalCa> {
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `O=SPIKE Dev Agent, CN=${td.name}`,
      keys,
      signingAlgorithm: ALG,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_LIFETIME_MS),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: td.idString() }]),
      ],
    });
    const keyPem = x509.PemConverter.encode(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    );
    // Write the key with its final mode from the start; never world-readable, not even briefly.
    await Deno.writeTextFile(keyPath, keyPem, { mode: 0o600 });
    await Deno.chmod(keyPath, 0o600);
    await Deno.writeTextFile(certPath, certificate.toString("pem"), { mode: 0o644 });
    return new LocalCa(td, certificate, keys.privateKey);
  }

  /** Issues a leaf X.509-SVID for `id`, valid for `ttlMs` from now. */
  async issue(id: SpiffeId, ttlMs: number): Promise<IssuedSvid> {
    if (!id.memberOf(this.trustDomain)) {
      throw new Error(`cannot issue ${id} from the CA of trust domain ${this.trustDomain}`);
    }
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const now = Date.now();
    const notAfter = new Date(Math.min(now + ttlMs, this.certificate.notAfter.getTime()));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: "O=SPIKE Dev Agent",
      issuer: this.certificate.subject,
      publicKey: keys.publicKey,
      signingKey: this.#signingKey,
      signingAlgorithm: ALG,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: id.toString() }]),
      ],
    });
    return {
      certificates: [new Uint8Array(leaf.rawData)],
      privateKey: new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
      notAfter,
    };
  }
}
