/**
 * Test fixtures made by `openssl`, an implementation independent of ours: CAs (EC P-256 by
 * default), X.509-SVIDs with a URI SAN, and deliberately broken certificates for the rejection
 * tests.
 *
 * Everything lives in one temporary directory; call {@link Pki.cleanup} when done. Signing uses
 * `openssl ca` so that validity windows can be set exactly (expired, not yet valid).
 *
 * @module
 */

/** Path of the openssl binary. */
export const OPENSSL = "/usr/bin/openssl";

/** A certificate with its key, as PEM text and as files. */
export interface Issued {
  /** Short name, used for file names. */
  readonly name: string;
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The private key, PKCS#8 PEM. */
  readonly keyPem: string;
  /** Path of the certificate PEM file. */
  readonly certFile: string;
  /** Path of the key PEM file. */
  readonly keyFile: string;
  /** The certificate followed by its issuers up to (not including) the root, PEM. */
  readonly chainPem: string;
  /** True for a self-signed root. */
  readonly root: boolean;
  /** Key algorithm of the certificate's key. */
  readonly keyAlgorithm: KeyAlgorithm;
}

/** Key algorithm of a new certificate. */
export type KeyAlgorithm = "ec" | "rsa" | "ed25519";

interface CommonOptions {
  /** Subject CN; defaults to the name. */
  cn?: string;
  /** Validity start relative to now, in seconds (negative = past). Default -3600. */
  startOffset?: number;
  /** Validity end relative to now, in seconds. */
  endOffset?: number;
  /** Extra extension lines (openssl x509v3 config syntax). */
  extra?: string[];
  /** Key algorithm. Default `ec` (P-256). */
  keyAlgorithm?: KeyAlgorithm;
  /** Reuse the key of this certificate instead of making a new one. */
  sameKeyAs?: Issued;
}

/** Options for {@link Pki.ca}. */
export interface CaOptions extends CommonOptions {
  /** SPIFFE ID of the CA (trust domain ID, e.g. `spiffe://example.org`); none when omitted. */
  uri?: string;
  /** Signing CA; a self-signed root when omitted. */
  issuer?: Issued;
  /** basicConstraints pathlen. */
  pathLen?: number;
  /** basicConstraints; default `critical, CA:TRUE[, pathlen:N]`. */
  basicConstraints?: string;
  /** keyUsage value; default `critical, keyCertSign, cRLSign`; null omits it. */
  keyUsage?: string | null;
}

/** Options for {@link Pki.leaf}. */
export interface LeafOptions extends CommonOptions {
  /** URI SANs (the SPIFFE ID, or several or none for the negative cases). */
  uris: string[];
  /** Signing CA. */
  issuer: Issued;
  /** basicConstraints; default `critical, CA:FALSE`. */
  basicConstraints?: string;
  /** keyUsage; default `critical, digitalSignature, keyEncipherment, keyAgreement`; null omits. */
  keyUsage?: string | null;
}

async function run(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(OPENSSL, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`openssl ${args.join(" ")} failed:\n${err}`);
  }
}

function asn1Time(offsetSeconds: number): string {
  // GeneralizedTime; `openssl ca -startdate/-enddate` accepts it.
  const d = new Date(Date.now() + offsetSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

const KEYGEN: Record<KeyAlgorithm, string[]> = {
  ec: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  rsa: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
  ed25519: ["-algorithm", "ED25519"],
};

/** A throw-away PKI in a temporary directory. Create with {@link createPki}. */
export class Pki {
  /** The temporary directory. */
  readonly dir: string;
  #ready = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  async #setup(): Promise<string> {
    const conf = `${this.dir}/ca.cnf`;
    if (this.#ready) return conf;
    await Deno.mkdir(`${this.dir}/newcerts`, { recursive: true });
    await Deno.writeTextFile(`${this.dir}/index.txt`, "");
    await Deno.writeTextFile(`${this.dir}/serial`, "1000\n");
    await Deno.writeTextFile(
      conf,
      [
        "[ca]",
        "default_ca = CA_default",
        "[CA_default]",
        `database = ${this.dir}/index.txt`,
        `new_certs_dir = ${this.dir}/newcerts`,
        `serial = ${this.dir}/serial`,
        "policy = policy_any",
        "unique_subject = no",
        "copy_extensions = none",
        "[policy_any]",
        "commonName = optional",
        "organizationName = optional",
        "",
      ].join("\n"),
    );
    this.#ready = true;
    return conf;
  }

  /** Makes a new private key (PKCS#8 PEM file) without a certificate. */
  async key(name: string, algorithm: KeyAlgorithm = "ec"): Promise<string> {
    const keyFile = `${this.dir}/${name}.key`;
    await run(["genpkey", ...KEYGEN[algorithm], "-out", keyFile], this.dir);
    return keyFile;
  }

  async #issue(
    name: string,
    o: CommonOptions,
    extLines: string[],
    issuer: Issued | undefined,
    endOffset: number,
  ): Promise<Issued> {
    const conf = await this.#setup();
    const certFile = `${this.dir}/${name}.pem`;
    const csrFile = `${this.dir}/${name}.csr`;
    const extFile = `${this.dir}/${name}.ext`;
    const keyFile = o.sameKeyAs ? o.sameKeyAs.keyFile : await this.key(name, o.keyAlgorithm);
    await run([
      "req",
      "-new",
      "-key",
      keyFile,
      "-subj",
      `/O=SPIFFE/CN=${o.cn ?? name}`,
      "-out",
      csrFile,
    ], this.dir);
    await Deno.writeTextFile(extFile, ["[ext]", ...extLines, ...(o.extra ?? []), ""].join("\n"));
    // Ed25519 signers take no digest; the others use SHA-256.
    const keyAlgorithm = o.sameKeyAs?.keyAlgorithm ?? o.keyAlgorithm ?? "ec";
    const signerIsEd = (issuer?.keyAlgorithm ?? keyAlgorithm) === "ed25519";
    const args = [
      "ca",
      "-batch",
      "-config",
      conf,
      "-notext",
      "-preserveDN",
      "-md",
      signerIsEd ? "default" : "sha256",
      "-in",
      csrFile,
      "-out",
      certFile,
      "-extfile",
      extFile,
      "-extensions",
      "ext",
      "-startdate",
      asn1Time(o.startOffset ?? -3600),
      "-enddate",
      asn1Time(o.endOffset ?? endOffset),
    ];
    if (issuer) args.push("-cert", issuer.certFile, "-keyfile", issuer.keyFile);
    else args.push("-selfsign", "-keyfile", keyFile);
    await run(args, this.dir);
    const certPem = await Deno.readTextFile(certFile);
    const keyPem = await Deno.readTextFile(keyFile);
    // Intermediates travel with the chain; roots do not.
    const chainPem = issuer && !issuer.root ? certPem + issuer.chainPem : certPem;
    return { name, certPem, keyPem, certFile, keyFile, chainPem, root: !issuer, keyAlgorithm };
  }

  /** Issues a CA: a self-signed root, or an intermediate when `issuer` is given. */
  ca(name: string, o: CaOptions = {}): Promise<Issued> {
    const bc = o.basicConstraints ??
      (o.pathLen === undefined ? "critical, CA:TRUE" : `critical, CA:TRUE, pathlen:${o.pathLen}`);
    const lines = [`basicConstraints = ${bc}`, "subjectKeyIdentifier = hash"];
    const ku = o.keyUsage === undefined ? "critical, keyCertSign, cRLSign" : o.keyUsage;
    if (ku !== null) lines.push(`keyUsage = ${ku}`);
    if (o.issuer) lines.push("authorityKeyIdentifier = keyid");
    if (o.uri) lines.push(`subjectAltName = URI:${o.uri}`);
    return this.#issue(name, o, lines, o.issuer, 10 * 86400);
  }

  /** Issues a leaf certificate (an X.509-SVID unless the options make it invalid). */
  leaf(name: string, o: LeafOptions): Promise<Issued> {
    const lines = [
      `basicConstraints = ${o.basicConstraints ?? "critical, CA:FALSE"}`,
      "extendedKeyUsage = serverAuth, clientAuth",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
    ];
    const ku = o.keyUsage === undefined
      ? "critical, digitalSignature, keyEncipherment, keyAgreement"
      : o.keyUsage;
    if (ku !== null) lines.push(`keyUsage = ${ku}`);
    if (o.uris.length > 0) {
      lines.push(`subjectAltName = critical, ${o.uris.map((u) => "URI:" + u).join(", ")}`);
    }
    return this.#issue(name, o, lines, o.issuer, 86400);
  }

  /** Removes the temporary directory. */
  async cleanup(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Creates an empty PKI in a new temporary directory. */
export async function createPki(prefix = "spike-openssl-"): Promise<Pki> {
  return new Pki(await Deno.makeTempDir({ prefix }));
}

/** Runs `openssl verify` on `leafFile` against `rootFile`; returns success and output. */
export async function opensslVerify(
  rootFile: string,
  leafFile: string,
  untrustedFile?: string,
): Promise<{ ok: boolean; output: string }> {
  const args = ["verify", "-CAfile", rootFile];
  if (untrustedFile) args.push("-untrusted", untrustedFile);
  args.push(leafFile);
  const out = await new Deno.Command(OPENSSL, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: out.success, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
