/**
 * The contract of encryption as a service. JSON mode carries base64 fields;
 * stream mode (request `Content-Type` exactly `application/octet-stream`)
 * carries raw bytes: encrypt answers `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag`,
 * decrypt takes the same and answers the plaintext.
 *
 * @module
 */

import { invalid } from "./errors.ts";
import { base64Field, intField, type JsonObject, stringField } from "./json.ts";

/** The only format version. */
export const CIPHER_VERSION = 1;
/** Content type that selects stream mode. */
export const STREAM_CONTENT_TYPE = "application/octet-stream";
/** AES-GCM tag length, part of every ciphertext. */
export const TAG_BYTES = 16;
/** Nonce length. */
export const NONCE_BYTES = 12;

/** JSON encrypt body. `algorithm` is accepted and ignored, as upstream. */
export interface EncryptRequest {
  plaintext: string;
  algorithm?: string;
}

/** JSON encrypt answer. */
export interface EncryptResponse {
  version: number;
  nonce: string;
  ciphertext: string;
}

/** JSON decrypt body. */
export interface DecryptRequest {
  version: number;
  nonce: string;
  ciphertext: string;
  algorithm?: string;
}

/** JSON decrypt answer. */
export interface DecryptResponse {
  plaintext: string;
}

function readAlgorithm(obj: JsonObject): void {
  stringField(obj, "algorithm", "");
}

/** Reads a JSON encrypt body; returns the plaintext bytes. */
export function readEncrypt(obj: JsonObject): Uint8Array {
  stringField(obj, "plaintext", "");
  readAlgorithm(obj);
  return base64Field(obj, "plaintext");
}

/** Reads and checks a JSON decrypt body. */
export function readDecrypt(
  obj: JsonObject,
  maxCiphertext: number,
): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const version = intField(obj, "version", { fallback: 0 });
  stringField(obj, "nonce", "");
  stringField(obj, "ciphertext", "");
  readAlgorithm(obj);
  if (version !== CIPHER_VERSION) {
    throw invalid("version", "one-of", [String(CIPHER_VERSION)], "unsupported version");
  }
  const nonce = base64Field(obj, "nonce");
  if (nonce.length !== NONCE_BYTES) {
    throw invalid("nonce", "length", NONCE_BYTES, "the nonce must be 12 bytes");
  }
  const ciphertext = base64Field(obj, "ciphertext");
  if (ciphertext.length > maxCiphertext) {
    throw invalid("ciphertext", "size", maxCiphertext, "the ciphertext is too large");
  }
  return { nonce, ciphertext };
}
