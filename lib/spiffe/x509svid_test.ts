import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { X509Bundle, X509BundleSet } from "./bundle.ts";
import { parseTrustDomain } from "./id.ts";
import { pemToDer, readCertificates } from "./pem.ts";
import {
  certChainPem,
  idFromCertificate,
  parseX509Svid,
  privateKeyPem,
  verifyX509Svid,
  X509SvidError,
} from "./x509svid.ts";
import type { Issued } from "./_test_pki.ts";
import { makeFixtures } from "./_test_fixtures.ts";

const example = parseTrustDomain("example.org");
const other = parseTrustDomain("other.org");

const chainOf = (i: Issued) => readCertificates(i.chainPem);
const derOf = (i: Issued) => pemToDer(i.certPem)[0];

function rejects(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof X509SvidError, `expected X509SvidError, got ${e}`);
    assert.match(e.message, /^x509svid: /);
    assert.match(e.reason, reason);
    return true;
  });
}

Deno.test("X.509-SVID verification and parsing with openssl-made certificates", async (t) => {
  const fx = await makeFixtures();
  try {
    const exampleBundle = X509Bundle.parse(example, fx.root.certPem + fx.rsaRoot.certPem);
    const bundles = new X509BundleSet([
      exampleBundle,
      X509Bundle.parse(other, fx.otherRoot.certPem),
    ]);
    const verify = (chain: Uint8Array[], set = bundles, now?: Date) =>
      verifyX509Svid(chain, set, now);

    await t.step("accepts a root-signed SVID and returns its ID and verified chain", () => {
      const { id, verifiedChain } = verify(chainOf(fx.good.workload));
      assert.equal(id.toString(), "spiffe://example.org/workload");
      assert.deepEqual(verifiedChain, [derOf(fx.good.workload), derOf(fx.root)]);
    });

    await t.step(
      "accepts leaf + presented intermediate, and a chain that includes the root",
      () => {
        const { id, verifiedChain } = verify(chainOf(fx.good.pilotViaInter));
        assert.equal(id.toString(), "spiffe://example.org/spike/pilot/role/superuser");
        assert.equal(verifiedChain.length, 3);
        assert.deepEqual(verifiedChain[2], derOf(fx.root));
        const withRoot = [...chainOf(fx.good.workload), derOf(fx.root)];
        assert.equal(verify(withRoot).verifiedChain.length, 2);
        // Extra, unrelated certificates in the presented chain are ignored.
        const noisy = [
          ...chainOf(fx.good.pilotViaInter),
          derOf(fx.otherRoot),
          derOf(fx.good.nexus),
        ];
        assert.equal(verify(noisy).verifiedChain.length, 3);
      },
    );

    await t.step("accepts RSA and federated trust domains", () => {
      assert.equal(verify(chainOf(fx.good.rsa)).id.toString(), "spiffe://example.org/rsa");
      assert.equal(verify(chainOf(fx.good.otherTd)).id.toString(), "spiffe://other.org/workload");
    });

    await t.step("picks the bundle of the leaf's trust domain only", () => {
      rejects(
        () => verify(chainOf(fx.good.otherTd), new X509BundleSet([exampleBundle])),
        /^no X.509 bundle found for trust domain "other.org"$/,
      );
      // other.org's root signed a certificate claiming an example.org ID: never trusted, even
      // when that root is in our bundle set and even when the peer presents it.
      rejects(() => verify(chainOf(fx.bad.wrongTd)), /signed by unknown authority/);
      rejects(
        () => verify([...chainOf(fx.bad.wrongTd), derOf(fx.otherRoot)]),
        /signed by unknown authority.*trust domain "example.org"/,
      );
    });

    await t.step("refuses a CA it does not trust, even with the same name as a trusted one", () => {
      rejects(() => verify(chainOf(fx.bad.untrusted)), /signed by unknown authority/);
      rejects(() => verify([derOf(fx.good.pilotViaInter)]), /signed by unknown authority/);
    });

    await t.step("refuses the leaf shapes the X.509-SVID spec forbids", () => {
      const cases: [Issued, RegExp][] = [
        [fx.bad.twoUris, /^certificate contains more than one URI SAN$/],
        [fx.bad.noUri, /^certificate contains no URI SAN$/],
        [fx.bad.caLeaf, /^leaf certificate with CA flag set to true$/],
        [fx.bad.keyCertSign, /^leaf certificate with KeyCertSign key usage$/],
        [fx.bad.crlSign, /^leaf certificate with KeyCrlSign key usage$/],
        [fx.bad.noDigitalSignature, /must have 'digitalSignature' set as key usage/],
        [fx.bad.noKeyUsage, /has no key usage extension/],
        [fx.bad.noPath, /SPIFFE ID "spiffe:\/\/example.org" has no path/],
        [fx.bad.notSpiffe, /URI SAN is not a SPIFFE ID: .*scheme must be "spiffe:\/\/"/],
        [fx.bad.unknownCritical, /unhandled critical extension\(s\) 1.3.6.1.4.1.99999.1/],
      ];
      for (const [cert, reason] of cases) rejects(() => verify(chainOf(cert)), reason);
    });

    await t.step("checks validity of every certificate, roots included", () => {
      rejects(() => verify(chainOf(fx.bad.expired)), /leaf certificate .* has expired: notAfter/);
      rejects(() => verify(chainOf(fx.bad.notYetValid)), /is not yet valid: notBefore/);
      rejects(
        () => verify(chainOf(fx.good.workload), bundles, new Date(Date.now() + 3 * 86400_000)),
        /has expired/,
      );
      rejects(() => verify(chainOf(fx.bad.viaExpiredInter)), /expired-inter.*has expired/);
      const expiredRootSet = new X509BundleSet([
        X509Bundle.parse(example, fx.extraRoots.expiredRoot.certPem),
      ]);
      rejects(
        () => verify(chainOf(fx.extraLeaves.underExpiredRoot), expiredRootSet),
        /root 0 of trust domain "example.org".*has expired/,
      );
    });

    await t.step("checks intermediates: CA flag, keyCertSign, pathLen", () => {
      rejects(() => verify(chainOf(fx.bad.viaNoCertSignInter)), /lacks the keyCertSign key usage/);
      rejects(
        () => verify(chainOf(fx.bad.viaNonCaInter)),
        /is not a CA \(basicConstraints CA=false\)/,
      );
      const pathLenSet = new X509BundleSet([
        X509Bundle.parse(example, fx.extraRoots.pathLenRoot.certPem),
      ]);
      rejects(
        () => verify(chainOf(fx.bad.viaPathLenRoot), pathLenSet),
        /allows 0 intermediate\(s\) below it \(pathLen\) but the path has 1/,
      );
    });

    await t.step("enforces URI name constraints on the trust domain", () => {
      const set = new X509BundleSet([
        X509Bundle.parse(
          example,
          fx.extraRoots.permitRoot.certPem + fx.extraRoots.excludeRoot.certPem,
        ),
      ]);
      assert.equal(verify(chainOf(fx.extraLeaves.permitted), set).id.path, "/ok");
      rejects(
        () => verify(chainOf(fx.extraLeaves.excluded), set),
        /URI host name "example.org" is excluded by name constraints/,
      );
    });

    await t.step("bounds the path search against crafted candidate issuers", async () => {
      // Ten CAs with one name and one key: each verifies as the issuer of every other.
      const first = await fx.pki.ca("loop-0", { cn: "loop" });
      const loops = [first];
      for (let i = 1; i < 10; i++) {
        loops.push(await fx.pki.ca(`loop-${i}`, { cn: "loop", sameKeyAs: first }));
      }
      const leaf = await fx.pki.leaf("loop-leaf", {
        uris: [`spiffe://example.org/x`],
        issuer: first,
      });
      const started = performance.now();
      rejects(
        () => verify([derOf(leaf), ...loops.map(derOf)]),
        /gave up after 100 signature checks/,
      );
      assert.ok(performance.now() - started < 2000);
      rejects(
        () => verify(new Array(17).fill(derOf(fx.good.workload))),
        /17 certificates presented; at most 16/,
      );
    });

    await t.step("refuses empty chains and garbage", () => {
      rejects(() => verify([]), /^empty certificates chain$/);
      rejects(
        () => verify([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])]),
        /^leaf certificate is not a valid X.509 certificate/,
      );
      rejects(
        () => verify([derOf(fx.good.workload), new Uint8Array([0x30, 0x00])]),
        /^certificate 1 is not a valid X.509 certificate/,
      );
    });

    await t.step("idFromCertificate reads the one URI SAN", () => {
      assert.equal(
        idFromCertificate(derOf(fx.good.nexus)).toString(),
        "spiffe://example.org/spike/nexus",
      );
      rejects(() => idFromCertificate(derOf(fx.bad.twoUris)), /more than one URI SAN/);
      rejects(() => idFromCertificate(derOf(fx.bad.noUri)), /no URI SAN/);
    });

    await t.step("parseX509Svid reads our own SVID from PEM or DER", () => {
      const svid = parseX509Svid(fx.good.pilotViaInter.chainPem, fx.good.pilotViaInter.keyPem, "h");
      assert.equal(svid.id.toString(), "spiffe://example.org/spike/pilot/role/superuser");
      assert.equal(svid.certificates.length, 2);
      assert.equal(svid.hint, "h");
      assert.ok(svid.notAfter > new Date());
      assert.deepEqual(svid.privateKey, pemToDer(fx.good.pilotViaInter.keyPem, "PRIVATE KEY")[0]);
      const again = parseX509Svid(certChainPem(svid), privateKeyPem(svid));
      assert.deepEqual(again.certificates, svid.certificates);
      assert.deepEqual(again.privateKey, svid.privateKey);
      assert.equal(again.hint, "");
      const der = chainOf(fx.good.pilotViaInter);
      const concatenated = new Uint8Array([...der[0], ...der[1]]);
      assert.deepEqual(parseX509Svid(concatenated, svid.privateKey).certificates, der);
      assert.deepEqual(parseX509Svid(der, svid.privateKey).certificates, der);
      const rsa = parseX509Svid(fx.good.rsa.certPem, fx.good.rsa.keyPem);
      assert.equal(rsa.id.path, "/rsa");
    });

    await t.step("parseX509Svid converts SEC1 keys to PKCS#8", () => {
      const sec1 = createPrivateKey(fx.good.workload.keyPem).export({
        type: "sec1",
        format: "pem",
      });
      assert.match(String(sec1), /BEGIN EC PRIVATE KEY/);
      const svid = parseX509Svid(fx.good.workload.certPem, String(sec1));
      assert.deepEqual(svid.privateKey, pemToDer(fx.good.workload.keyPem)[0]);
    });

    await t.step("parseX509Svid applies go-spiffe's Parse rules", () => {
      const p = (cert: Issued, key = cert.keyPem) => () => parseX509Svid(cert.chainPem, key);
      rejects(p(fx.good.nexus, fx.good.workload.keyPem), /private key does not match the leaf/);
      rejects(p(fx.bad.twoUris), /more than one URI SAN/);
      rejects(p(fx.bad.caLeaf), /CA flag set to true/);
      rejects(p(fx.bad.keyCertSign), /KeyCertSign/);
      rejects(p(fx.bad.crlSign), /KeyCrlSign/);
      rejects(p(fx.bad.noDigitalSignature), /digitalSignature/);
      rejects(p(fx.bad.noPath), /has no path/);
      rejects(p(fx.bad.viaNoCertSignInter), /intermediate certificate 1 .* lacks the keyCertSign/);
      rejects(
        () =>
          parseX509Svid(fx.good.workload.certPem + fx.good.nexus.certPem, fx.good.workload.keyPem),
        /intermediate certificate 1 .* is not a CA/,
      );
      rejects(() => parseX509Svid(fx.good.workload.certPem, "nonsense"), /cannot read private key/);
      rejects(() => parseX509Svid("", fx.good.workload.keyPem), /cannot read certificates/);
      rejects(() => parseX509Svid([], fx.good.workload.keyPem), /no certificates found/);
    });
  } finally {
    await fx.pki.cleanup();
  }
});
