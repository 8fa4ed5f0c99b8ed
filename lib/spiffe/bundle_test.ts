import assert from "node:assert/strict";
import { X509Bundle, X509BundleError, X509BundleSet } from "./bundle.ts";
import { parseTrustDomain } from "./id.ts";
import { derToPem, pemToDer } from "./pem.ts";
import { createPki } from "./_test_pki.ts";
import { concat } from "../std/bytes.ts";

const example = parseTrustDomain("example.org");
const other = parseTrustDomain("spiffe://other.org");

Deno.test("X509Bundle and X509BundleSet", async (t) => {
  const pki = await createPki();
  try {
    const a = await pki.ca("a", { uri: "spiffe://example.org" });
    const b = await pki.ca("b", { uri: "spiffe://example.org" });
    const c = await pki.ca("c", { uri: "spiffe://other.org" });
    const [aDer] = pemToDer(a.certPem);
    const [bDer] = pemToDer(b.certPem);

    await t.step("parses PEM and concatenated DER alike, deduplicating", () => {
      const fromPem = X509Bundle.parse(example, a.certPem + b.certPem + a.certPem);
      assert.equal(fromPem.trustDomain.name, "example.org");
      assert.deepEqual(fromPem.authorities, [aDer, bDer]);
      const fromDer = X509Bundle.parse(example, concat(aDer, bDer, bDer));
      assert.deepEqual(fromDer.authorities, [aDer, bDer]);
      const fromPemBytes = X509Bundle.parse(example, new TextEncoder().encode(b.certPem));
      assert.deepEqual(fromPemBytes.authorities, [bDer]);
      assert.ok(fromPem.hasAuthority(bDer));
      assert.ok(!fromPemBytes.hasAuthority(aDer));
    });

    await t.step("toPem round-trips", () => {
      const bundle = X509Bundle.parse(example, a.certPem + b.certPem);
      assert.deepEqual(X509Bundle.parse(example, bundle.toPem()).authorities, bundle.authorities);
      assert.equal(bundle.toPem(), derToPem(aDer, "CERTIFICATE") + derToPem(bDer, "CERTIFICATE"));
    });

    await t.step("empty DER gives an empty bundle; empty PEM is an error", () => {
      assert.equal(X509Bundle.parse(example, new Uint8Array()).authorities.length, 0);
      assert.equal(X509Bundle.parse(example, new Uint8Array()).toPem(), "");
      assert.throws(() => X509Bundle.parse(example, ""), /no PEM blocks found/);
    });

    await t.step("rejects non-certificates with a clear error", () => {
      const notCert = derToPem(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), "CERTIFICATE");
      assert.throws(() => X509Bundle.parse(example, a.certPem + notCert), (e) => {
        assert.ok(e instanceof X509BundleError);
        assert.match(
          e.message,
          /^x509bundle: authority 1 for trust domain "example.org" is not an X.509 certificate/,
        );
        return true;
      });
      assert.throws(
        () => X509Bundle.parse(example, new Uint8Array([1, 2, 3])),
        /cannot read authorities for trust domain "example.org": .*expected an ASN.1 SEQUENCE/,
      );
    });

    await t.step("authorities are copies of the input", () => {
      const input = concat(aDer);
      const bundle = X509Bundle.parse(example, input);
      input[10] ^= 0xff;
      assert.deepEqual(bundle.authorities[0], aDer);
    });

    await t.step("a set keeps one bundle per trust domain and never merges", () => {
      const exampleBundle = X509Bundle.parse(example, a.certPem);
      const replacement = X509Bundle.parse(example, b.certPem);
      const otherBundle = X509Bundle.parse(other, c.certPem);
      const set = new X509BundleSet([otherBundle, exampleBundle, replacement]);
      assert.equal(set.get(example), replacement);
      assert.equal(set.getX509BundleForTrustDomain(other), otherBundle);
      assert.ok(set.has(other));
      assert.ok(!set.has(parseTrustDomain("nowhere.org")));
      assert.equal(set.get(parseTrustDomain("nowhere.org")), undefined);
      assert.deepEqual(set.bundles().map((x) => x.trustDomain.name), ["example.org", "other.org"]);
      assert.deepEqual(
        set.allAuthoritiesPem(),
        [b.certPem, c.certPem].map((p) => derToPem(pemToDer(p)[0], "CERTIFICATE")),
      );
      assert.deepEqual(new X509BundleSet().bundles(), []);
    });
  } finally {
    await pki.cleanup();
  }
});
