/**
 * The standard set of openssl-made SVIDs and broken certificates used by the X.509-SVID and
 * mTLS tests (`lib/spiffe`, `lib/tls`, `tests/mtls_test.ts`), with {@link sourceOf} to serve one
 * as an X.509 source. Trust domains: `example.org` (root, plus an intermediate) and `other.org`.
 *
 * @module
 */

import { X509Bundle, X509BundleSet } from "./bundle.ts";
import { parseTrustDomain } from "./id.ts";
import { StaticX509Source } from "./source.ts";
import { parseX509Svid } from "./x509svid.ts";
import { createPki, type Issued, type Pki } from "./_test_pki.ts";

/** Everything {@link makeFixtures} creates. */
export interface Fixtures {
  /** The PKI (temp dir); call `pki.cleanup()` when done. */
  pki: Pki;
  /** Root CA of example.org. */
  root: Issued;
  /** Intermediate CA of example.org (issued by root). */
  inter: Issued;
  /** Root CA of other.org. */
  otherRoot: Issued;
  /** A second, unrelated CA that uses the same subject name as `root`. */
  rogueRoot: Issued;
  /** Valid SVIDs. */
  good: {
    /** spiffe://example.org/workload, issued by root. */
    workload: Issued;
    /** spiffe://example.org/spike/nexus, issued by root. */
    nexus: Issued;
    /** spiffe://example.org/spike/nexus (a second key: the rotated server). */
    nexusRotated: Issued;
    /** spiffe://example.org/spike/pilot/role/superuser, via the intermediate. */
    pilotViaInter: Issued;
    /** spiffe://example.org/spike/keeper, issued by root. */
    keeper: Issued;
    /** spiffe://other.org/workload, issued by otherRoot. */
    otherTd: Issued;
    /** spiffe://example.org/rsa, RSA root-signed... by an RSA root (rsaRoot). */
    rsa: Issued;
  };
  /** RSA root of example.org (a second authority in that bundle). */
  rsaRoot: Issued;
  /** Certificates that must be refused, by the reason they must be refused for. */
  bad: {
    twoUris: Issued;
    noUri: Issued;
    caLeaf: Issued;
    keyCertSign: Issued;
    crlSign: Issued;
    noDigitalSignature: Issued;
    noKeyUsage: Issued;
    noPath: Issued;
    notSpiffe: Issued;
    /** Claims spiffe://example.org/… but is signed by other.org's root. */
    wrongTd: Issued;
    expired: Issued;
    notYetValid: Issued;
    /** Signed by rogueRoot (same issuer name as root, other key). */
    untrusted: Issued;
    /** spiffe://example.org/… with an unknown critical extension. */
    unknownCritical: Issued;
    /** Via an intermediate that has expired. */
    viaExpiredInter: Issued;
    /** Via an intermediate without keyCertSign. */
    viaNoCertSignInter: Issued;
    /** Via an "intermediate" with CA:FALSE. */
    viaNonCaInter: Issued;
    /** Via an intermediate under a root with pathlen:0. */
    viaPathLenRoot: Issued;
  };
  /** Roots for the special cases: pathLenRoot (pathlen 0), expiredRoot, constrained roots. */
  extraRoots: {
    pathLenRoot: Issued;
    expiredRoot: Issued;
    permitRoot: Issued;
    excludeRoot: Issued;
  };
  /** Leaves for the special roots. */
  extraLeaves: {
    underExpiredRoot: Issued;
    permitted: Issued;
    excluded: Issued;
  };
}

const TD = "spiffe://example.org";

/** Creates the fixture set (about 40 openssl runs; well under a second or two). */
export async function makeFixtures(): Promise<Fixtures> {
  const pki = await createPki();
  try {
    const root = await pki.ca("root", { uri: TD });
    const inter = await pki.ca("inter", { uri: TD, issuer: root });
    const otherRoot = await pki.ca("other-root", { uri: "spiffe://other.org" });
    const rogueRoot = await pki.ca("rogue-root", { uri: TD, cn: "root" });
    const rsaRoot = await pki.ca("rsa-root", { uri: TD, keyAlgorithm: "rsa" });
    const leaf = (name: string, uris: string[], issuer: Issued, extra = {}) =>
      pki.leaf(name, { uris, issuer, ...extra });

    const good = {
      workload: await leaf("workload", [`${TD}/workload`], root),
      nexus: await leaf("nexus", [`${TD}/spike/nexus`], root),
      nexusRotated: await leaf("nexus-rotated", [`${TD}/spike/nexus`], root, { cn: "rotated" }),
      pilotViaInter: await leaf("pilot", [`${TD}/spike/pilot/role/superuser`], inter),
      keeper: await leaf("keeper", [`${TD}/spike/keeper`], root),
      otherTd: await leaf("other-workload", ["spiffe://other.org/workload"], otherRoot),
      rsa: await leaf("rsa", [`${TD}/rsa`], rsaRoot, { keyAlgorithm: "rsa" }),
    };

    const expiredInter = await pki.ca("expired-inter", {
      uri: TD,
      issuer: root,
      startOffset: -7200,
      endOffset: -3600,
    });
    const noCertSignInter = await pki.ca("nocertsign-inter", {
      uri: TD,
      issuer: root,
      keyUsage: "critical, cRLSign, digitalSignature",
    });
    const nonCaInter = await pki.ca("nonca-inter", {
      uri: TD,
      issuer: root,
      basicConstraints: "critical, CA:FALSE",
    });
    const pathLenRoot = await pki.ca("pathlen-root", { uri: TD, pathLen: 0, cn: "pathlen" });
    const pathLenInter = await pki.ca("pathlen-inter", { uri: TD, issuer: pathLenRoot });
    const expiredRoot = await pki.ca("expired-root", {
      uri: TD,
      startOffset: -7200,
      endOffset: -3600,
    });
    const permitRoot = await pki.ca("permit-root", {
      uri: TD,
      extra: ["nameConstraints = critical, permitted;URI:example.org"],
    });
    const excludeRoot = await pki.ca("exclude-root", {
      uri: TD,
      extra: ["nameConstraints = critical, excluded;URI:example.org"],
    });

    const bad = {
      twoUris: await leaf("two-uris", [`${TD}/a`, `${TD}/b`], root),
      noUri: await leaf("no-uri", [], root),
      caLeaf: await leaf("ca-leaf", [`${TD}/ca`], root, {
        basicConstraints: "critical, CA:TRUE",
      }),
      keyCertSign: await leaf("kcs-leaf", [`${TD}/kcs`], root, {
        keyUsage: "critical, digitalSignature, keyCertSign",
      }),
      crlSign: await leaf("crl-leaf", [`${TD}/crl`], root, {
        keyUsage: "critical, digitalSignature, cRLSign",
      }),
      noDigitalSignature: await leaf("nods-leaf", [`${TD}/nods`], root, {
        keyUsage: "critical, keyEncipherment",
      }),
      noKeyUsage: await leaf("noku-leaf", [`${TD}/noku`], root, { keyUsage: null }),
      noPath: await leaf("nopath-leaf", [TD], root),
      notSpiffe: await leaf("https-leaf", ["https://example.org/x"], root),
      wrongTd: await leaf("wrong-td", [`${TD}/spike/nexus`], otherRoot),
      expired: await leaf("expired", [`${TD}/old`], root, { startOffset: -7200, endOffset: -3600 }),
      notYetValid: await leaf("future", [`${TD}/future`], root, {
        startOffset: 3600,
        endOffset: 7200,
      }),
      untrusted: await leaf("untrusted", [`${TD}/spike/pilot/role/superuser`], rogueRoot),
      unknownCritical: await leaf("unknown-critical", [`${TD}/crit`], root, {
        extra: ["1.3.6.1.4.1.99999.1 = critical, ASN1:NULL"],
      }),
      viaExpiredInter: await leaf("via-expired", [`${TD}/via-expired`], expiredInter),
      viaNoCertSignInter: await leaf("via-nocertsign", [`${TD}/via-ncs`], noCertSignInter),
      viaNonCaInter: await leaf("via-nonca", [`${TD}/via-nonca`], nonCaInter),
      viaPathLenRoot: await leaf("via-pathlen", [`${TD}/via-pathlen`], pathLenInter),
    };
    const extraLeaves = {
      underExpiredRoot: await leaf("under-expired-root", [`${TD}/x`], expiredRoot),
      permitted: await leaf("permitted", [`${TD}/ok`], permitRoot),
      excluded: await leaf("excluded", [`${TD}/no`], excludeRoot),
    };
    return {
      pki,
      root,
      inter,
      otherRoot,
      rogueRoot,
      rsaRoot,
      good,
      bad,
      extraRoots: { pathLenRoot, expiredRoot, permitRoot, excludeRoot },
      extraLeaves,
    };
  } catch (e) {
    await pki.cleanup();
    throw e;
  }
}

/** A fixture trust domain. */
export type FixtureDomain = "example.org" | "other.org";

/** The bundles of `tds`: example.org's root, other.org's root. */
export function bundleSet(fx: Fixtures, tds: FixtureDomain[]): X509BundleSet {
  return new X509BundleSet(tds.map((td) =>
    X509Bundle.parse(
      parseTrustDomain(td),
      td === "example.org" ? fx.root.certPem : fx.otherRoot.certPem,
    )
  ));
}

/** A source serving `cert` (with its chain) and the bundles of `tds` (default: both). */
export function sourceOf(
  fx: Fixtures,
  cert: Issued,
  tds: FixtureDomain[] = ["example.org", "other.org"],
): StaticX509Source {
  return new StaticX509Source(parseX509Svid(cert.chainPem, cert.keyPem), bundleSet(fx, tds));
}
