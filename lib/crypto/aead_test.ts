import assert from "node:assert/strict";
import { AeadKey, IntegrityError, SEAL_OVERHEAD, sealedGeneration } from "./aead.ts";
import { deriveKey, Keyring } from "./keyring.ts";

const enc = new TextEncoder();

Deno.test("sealed records open only with the same key and associated data", () => {
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const sealed = key.seal(enc.encode("hunter2"), "secret:db/creds:v1");
  assert.equal(sealed.length, 7 + SEAL_OVERHEAD);
  assert.equal(new TextDecoder().decode(key.open(sealed, "secret:db/creds:v1")), "hunter2");
  assert.throws(() => key.open(sealed, "secret:db/creds:v2"), IntegrityError);
  const other = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  assert.throws(() => other.open(sealed, "secret:db/creds:v1"), IntegrityError);
  for (let i = 0; i < sealed.length; i++) {
    const flipped = sealed.slice();
    flipped[i] ^= 0x01;
    assert.throws(() => key.open(flipped, "secret:db/creds:v1"), IntegrityError, `byte ${i}`);
  }
  assert.throws(() => key.open(sealed.subarray(0, 10), "x"), IntegrityError);
});

Deno.test("two seals of the same plaintext differ (fresh nonces)", () => {
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const a = key.seal(enc.encode("same"), "aad");
  const b = key.seal(enc.encode("same"), "aad");
  assert.notDeepEqual(a, b);
  assert.deepEqual(key.open(a, "aad"), key.open(b, "aad"));
  assert.equal(key.open(key.seal(new Uint8Array(0), "e"), "e").length, 0);
});

Deno.test("sub-keys differ by purpose; the key check tells the right root key", () => {
  const root = crypto.getRandomValues(new Uint8Array(32));
  assert.notDeepEqual(deriveKey(root, "secrets"), deriveKey(root, "cipher"));
  assert.deepEqual(deriveKey(root, "secrets"), deriveKey(root.slice(), "secrets"));
  const record = new Keyring(root).makeKeyCheck();
  assert.ok(new Keyring(root.slice()).verifyKeyCheck(record));
  const wrong = root.slice();
  wrong[0] ^= 1;
  assert.ok(!new Keyring(wrong).verifyKeyCheck(record));
  const tampered = record.slice();
  tampered[20] ^= 1;
  assert.ok(!new Keyring(root).verifyKeyCheck(tampered));
});

Deno.test("encrypt and decrypt carry nonce and ciphertext apart", () => {
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const { nonce, ciphertext } = key.encrypt(enc.encode("challenge"), "v");
  assert.equal(nonce.length, 12);
  assert.equal(ciphertext.length, 9 + 16);
  assert.equal(new TextDecoder().decode(key.decrypt(nonce, ciphertext, "v")), "challenge");
  assert.throws(() => key.decrypt(nonce.subarray(1), ciphertext, "v"), IntegrityError);
  assert.throws(() => key.decrypt(nonce, ciphertext.subarray(0, 5), "v"), IntegrityError);
});

Deno.test("records of a later root-key generation name it, and the number is bound to the record", () => {
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const one = key.seal(enc.encode("v"), "aad");
  assert.equal(sealedGeneration(one), 1);
  assert.equal(one[0], 0x01); // generation 1 keeps the original form
  const seven = key.seal(enc.encode("v"), "aad", 7);
  assert.equal(seven[0], 0x02);
  assert.equal(sealedGeneration(seven), 7);
  assert.equal(new TextDecoder().decode(key.open(seven, "aad")), "v");
  const renamed = seven.slice();
  renamed[4] = 8; // claims generation 8: does not open, even under the same key
  assert.equal(sealedGeneration(renamed), 8);
  assert.throws(() => key.open(renamed, "aad"), IntegrityError);
  assert.throws(() => sealedGeneration(new Uint8Array(40)), IntegrityError);
});

Deno.test("the sealed form is plain AES-256-GCM: WebCrypto opens what seal writes, and the reverse", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = new AeadKey(raw);
  const webKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const aad = enc.encode("secret-meta\u0000db/creds");
  const plaintext = crypto.getRandomValues(new Uint8Array(1300));
  const sealed = key.seal(plaintext, aad);
  assert.equal(sealed[0], 0x01);
  const opened = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: sealed.slice(1, 13), additionalData: aad },
    webKey,
    sealed.slice(13),
  );
  assert.deepEqual(new Uint8Array(opened), plaintext);
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const web = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad },
      webKey,
      plaintext,
    ),
  );
  assert.deepEqual(key.encrypt(plaintext, aad, nonce).ciphertext, web);
  assert.deepEqual(key.open(new Uint8Array([0x01, ...nonce, ...web]), aad), plaintext);
});

Deno.test("what open returns is a plain Uint8Array of its own bytes: slice copies, zeroing reaches nothing else", () => {
  const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
  const sealed = key.seal(enc.encode("hunter2"), "aad");
  const opened = key.open(sealed, "aad");
  assert.equal(Object.getPrototypeOf(opened), Uint8Array.prototype);
  const copy = opened.slice();
  opened.fill(0);
  assert.equal(new TextDecoder().decode(copy), "hunter2");
  assert.equal(new TextDecoder().decode(key.open(sealed, "aad")), "hunter2");
});
