import assert from "node:assert/strict";
import { derToPem, PemError, pemToDer, readCertificates, splitConcatenatedDer } from "./pem.ts";
import { concat } from "../std/bytes.ts";

// Two tiny SEQUENCEs standing in for certificates, and a long-form one (200 content bytes).
const A = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
const B = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x02]);
const LONG = new Uint8Array([0x30, 0x81, 200, ...new Uint8Array(200).fill(7)]);

Deno.test("derToPem and pemToDer round-trip, with 64-column lines", () => {
  const big = new Uint8Array(1000).map((_, i) => i % 256);
  const pem = derToPem(big, "CERTIFICATE");
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(pem, /\n-----END CERTIFICATE-----\n$/);
  for (const line of pem.trim().split("\n").slice(1, -1)) assert.ok(line.length <= 64);
  assert.deepEqual(pemToDer(pem), [big]);
});

Deno.test("pemToDer returns all blocks, or only those of a label, ignoring text around", () => {
  const text = "Bag Attributes: x\n" + derToPem(A, "CERTIFICATE") + "junk\n" +
    derToPem(B, "PRIVATE KEY") + derToPem(LONG, "CERTIFICATE") + "\ntrailer";
  assert.deepEqual(pemToDer(text), [A, B, LONG]);
  assert.deepEqual(pemToDer(text, "CERTIFICATE"), [A, LONG]);
  assert.deepEqual(pemToDer(text, "PRIVATE KEY"), [B]);
  assert.deepEqual(pemToDer(text.replaceAll("\n", "\r\n")), [A, B, LONG]);
});

Deno.test("pemToDer errors say what is wrong", () => {
  assert.throws(() => pemToDer(""), { name: "PemError", message: "no PEM blocks found" });
  assert.throws(() => pemToDer("hello"), /no PEM blocks found/);
  assert.throws(
    () => pemToDer(derToPem(A, "CERTIFICATE"), "PRIVATE KEY"),
    /no "PRIVATE KEY" PEM block found \(saw 1 block\(s\) of other types\)/,
  );
  assert.throws(
    () => pemToDer("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n"),
    /has no matching "-----END CERTIFICATE-----" line/,
  );
  assert.throws(
    () => pemToDer("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n"),
    /no matching/,
  );
  assert.throws(
    () => pemToDer("-----BEGIN CERTIFICATE-----\nMA*CAQE=\n-----END CERTIFICATE-----\n"),
    /contains invalid base64/,
  );
  assert.throws(
    () => pemToDer("-----BEGIN CERTIFICATE-----\nMAMCAQ\n-----END CERTIFICATE-----\n"),
    /truncated base64/,
  );
  assert.throws(
    () => pemToDer("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
    /is empty/,
  );
  assert.throws(
    () =>
      pemToDer(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMAMCAQE=\n" +
          "-----END RSA PRIVATE KEY-----\n",
      ),
    /has headers \(Proc-Type\); encrypted or legacy PEM is not supported/,
  );
  assert.throws(() => derToPem(A, "bad label"), PemError);
});

Deno.test("splitConcatenatedDer walks outer SEQUENCE lengths", () => {
  assert.deepEqual(splitConcatenatedDer(new Uint8Array()), []);
  assert.deepEqual(splitConcatenatedDer(A), [A]);
  assert.deepEqual(splitConcatenatedDer(concat(A, LONG, B)), [A, LONG, B]);
  const input = concat(A, B);
  const parts = splitConcatenatedDer(input);
  input[0] = 0; // results are copies
  assert.equal(parts[0][0], 0x30);
});

Deno.test("splitConcatenatedDer refuses truncation and garbage", () => {
  assert.throws(
    () => splitConcatenatedDer(concat(A, B.subarray(0, 4))),
    /DER element 2 at offset 5 is truncated: it claims 3 content bytes but only 2 remain/,
  );
  assert.throws(
    () => splitConcatenatedDer(concat(A, new Uint8Array([0x04, 0x00]))),
    /DER element 2 at offset 5: expected an ASN.1 SEQUENCE \(0x30\), found 0x04/,
  );
  assert.throws(() => splitConcatenatedDer(new Uint8Array([0x30])), /no length byte/);
  assert.throws(() => splitConcatenatedDer(new Uint8Array([0x30, 0x80, 0, 0])), /indefinite/);
  assert.throws(
    () => splitConcatenatedDer(new Uint8Array([0x30, 0x82, 0x01])),
    /inside its length/,
  );
  assert.throws(
    () => splitConcatenatedDer(new Uint8Array([0x30, 0x81, 0x05, 1, 2, 3, 4, 5])),
    /non-minimal/,
  );
  assert.throws(() => splitConcatenatedDer(new Uint8Array([0x30, 0x85, 1, 1, 1, 1, 1])), /absurd/);
});

Deno.test("readCertificates accepts PEM text, PEM bytes and concatenated DER", () => {
  const pem = derToPem(A, "CERTIFICATE") + derToPem(B, "PRIVATE KEY") +
    derToPem(LONG, "CERTIFICATE");
  assert.deepEqual(readCertificates(pem), [A, LONG]);
  assert.deepEqual(readCertificates(new TextEncoder().encode("\n" + pem)), [A, LONG]);
  assert.deepEqual(readCertificates(concat(A, B)), [A, B]);
  assert.throws(() => readCertificates(new Uint8Array()), /input is empty/);
  assert.throws(() => readCertificates(derToPem(B, "PRIVATE KEY")), /no "CERTIFICATE" PEM block/);
  assert.throws(
    () => readCertificates(new Uint8Array([0x02, 0x01, 0x00])),
    /expected an ASN.1 SEQUENCE/,
  );
});
