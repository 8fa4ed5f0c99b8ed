/**
 * Encryption as a service, under the cipher sub-key (never the secrets'
 * key). The superuser, the lite workload, and anyone with `execute` on
 * `spike/system/cipher/exec` may use it. Ciphertexts are at most
 * `SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE` bytes (tag included), so
 * plaintexts are at most that minus 16: whatever encrypt makes, decrypt takes.
 * Encrypt uses the current generation's cipher key; decrypt tries it, then
 * every older generation's (kept wrapped in the keyring record, newest
 * first), so ciphertexts made before a root-key rotation still decrypt.
 * Encrypt reads the keyring record first, and decrypt reads it when no held
 * key opens the ciphertext, so a rotation another replica made counts here
 * at once.
 *
 * @module
 */

import { badRequest, internalError } from "../../lib/api/errors.ts";
import {
  CIPHER_VERSION,
  type DecryptResponse,
  type EncryptResponse,
  NONCE_BYTES,
  readDecrypt,
  readEncrypt,
  STREAM_CONTENT_TYPE,
  TAG_BYTES,
} from "../../lib/api/cipher.ts";
import { toBase64 } from "../../lib/api/json.ts";
import { IntegrityError } from "../../lib/crypto/aead.ts";
import type { Reply } from "../../lib/http/dispatch.ts";
import { SYSTEM_PATH } from "../auth/guard.ts";
import type { AccessRule } from "../auth/policy.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

const AAD = "spike/cipher/v1";
const RULE: AccessRule = { path: SYSTEM_PATH.cipher, wanted: ["execute"], lite: "allow" };

/** Upstream answers some stream-mode errors in plain text (Go's http.Error). */
function plainError(text: string): Reply {
  return {
    status: 400,
    bytes: new TextEncoder().encode(text + "\n"),
    contentType: "text/plain; charset=utf-8",
  };
}

/** The cipher route handlers. */
export function cipherHandlers(ctx: NexusContext): RouteGroup<"cipher"> {
  const limit = ctx.config.maxCiphertextBytes;
  const key = () => ctx.state.key("cipher");
  // Ciphertexts made before a rotation were made under an older generation's cipher key.
  const tryKeys = (nonce: Uint8Array, ciphertext: Uint8Array) => {
    for (const k of ctx.state.cipherKeys()) {
      try {
        return k.decrypt(nonce, ciphertext, AAD);
      } catch (e) {
        if (!(e instanceof IntegrityError)) throw e;
      }
    }
    throw new IntegrityError("no cipher key generation opens the ciphertext");
  };
  // A ciphertext another replica made under a generation this one has not learned yet: learn
  // the keyring record once and try again (no store read when a held key opens it).
  const decrypt = async (nonce: Uint8Array, ciphertext: Uint8Array) => {
    try {
      return tryKeys(nonce, ciphertext);
    } catch (e) {
      if (!(e instanceof IntegrityError)) throw e;
      await ctx.state.learnLatest();
      return tryKeys(nonce, ciphertext);
    }
  };
  const stream = (headers: Record<string, unknown>) =>
    headers["content-type"] === STREAM_CONTENT_TYPE;

  return {
    "cipher.encrypt": nexusRoute({
      read: async (request) => {
        const streaming = stream(request.headers);
        const plaintext = streaming ? await request.body() : readEncrypt(await request.json());
        return { streaming, plaintext };
      },
      rule: () => RULE,
      act: async ({ streaming, plaintext }) => {
        if (plaintext.length > limit - TAG_BYTES) throw badRequest("the plaintext is too large");
        // Under the generation in use, even when a rotation by another replica is not learned yet.
        await ctx.state.learnLatest();
        const { nonce, ciphertext } = key().encrypt(plaintext, AAD);
        plaintext.fill(0);
        if (streaming) {
          const out = new Uint8Array(1 + NONCE_BYTES + ciphertext.length);
          out[0] = CIPHER_VERSION;
          out.set(nonce, 1);
          out.set(ciphertext, 1 + NONCE_BYTES);
          return { bytes: out, contentType: STREAM_CONTENT_TYPE };
        }
        const response: EncryptResponse = {
          version: CIPHER_VERSION,
          nonce: toBase64(nonce),
          ciphertext: toBase64(ciphertext),
        };
        return { json: response };
      },
    }),

    "cipher.decrypt": nexusRoute({
      // Upstream authorizes decrypt before parsing: nothing is read before the guard.
      read: () => Promise.resolve(undefined),
      rule: () => RULE,
      act: async (_, request) => {
        if (stream(request.headers)) {
          const body = await request.body();
          if (body.length < 1) return plainError("crypto_failed_to_read_version");
          if (body[0] !== CIPHER_VERSION) return plainError("crypto_unsupported_version");
          if (body.length < 1 + NONCE_BYTES) return plainError("crypto_failed_to_read_nonce");
          const ciphertext = body.subarray(1 + NONCE_BYTES);
          if (ciphertext.length > limit) throw badRequest("the ciphertext is too large");
          try {
            const plaintext = await decrypt(body.subarray(1, 1 + NONCE_BYTES), ciphertext);
            return { bytes: plaintext, contentType: STREAM_CONTENT_TYPE };
          } catch (e) {
            if (e instanceof IntegrityError) return plainError("decryption failed");
            throw e;
          }
        }
        const { nonce, ciphertext } = readDecrypt(await request.json(), limit);
        let plaintext: Uint8Array;
        try {
          plaintext = await decrypt(nonce, ciphertext);
        } catch (e) {
          if (e instanceof IntegrityError) throw internalError("decryption failed");
          throw e;
        }
        const response: DecryptResponse = { plaintext: toBase64(plaintext) };
        plaintext.fill(0);
        return { json: response };
      },
    }),
  };
}
