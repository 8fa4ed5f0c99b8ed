/**
 * The contract of the secret routes: request and response bodies, and the
 * validation upstream applies (path and key syntax and lengths), plus our
 * size limit per version.
 *
 * @module
 */

import { invalid } from "./errors.ts";
import { intField, intListField, type JsonObject, stringField, stringMapField } from "./json.ts";

/** Longest secret path. */
export const MAX_PATH_LENGTH = 500;
/** Longest key name inside a secret. */
export const MAX_KEY_LENGTH = 250;
/** Largest secret version: the JSON of its values, in bytes (512 KiB). */
export const MAX_SECRET_BYTES = 512 * 1024;

const PATH = /^[a-zA-Z0-9._\-/()?+*|[\]{}\\]+$/;
/** What {@link validateSecretPath} allows, in words. */
export const SECRET_PATH_RULE =
  `1-${MAX_PATH_LENGTH} characters of a-z A-Z 0-9 . _ - / ( ) ? + * | [ ] { } \\`;
const KEY = /^[a-zA-Z0-9_ -]+$/;
/** What {@link validateSecretValues} allows for a key name, in words. */
export const KEY_NAME_RULE = `1-${MAX_KEY_LENGTH} characters of a-z A-Z 0-9 _ - and space`;

/** `POST /v1/store/secrets` body. */
export interface SecretPutRequest {
  path: string;
  values: Record<string, string>;
  /**
   * Ours, not upstream's (which ignores it): write only if the current
   * version is this number (0: no current version), else 409 `api_conflict`.
   */
  cas?: number;
}

/** `?action=get` and metadata bodies; version 0 means the current one. */
export interface SecretVersionRequest {
  path: string;
  version?: number;
}

/** `?action=delete|undelete` bodies; an empty list means the current version. */
export interface SecretVersionsRequest {
  path: string;
  versions?: number[];
}

/** `?action=get` answer. */
export interface SecretGetResponse {
  data: Record<string, string>;
}

/** `?action=list` answer: every path, sorted. */
export interface SecretListResponse {
  keys: string[];
}

/** One version in a metadata answer. */
export interface SecretVersionInfo {
  createdTime: string;
  version: number;
  deletedTime: string | null;
}

/** `/v1/store/secrets/metadata?action=get` answer. */
export interface SecretMetadataResponse {
  versions: Record<string, SecretVersionInfo>;
  metadata: {
    currentVersion: number;
    oldestVersion: number;
    createdTime: string;
    updatedTime: string;
    maxVersions: number;
  };
}

/** Reads a put body's shape (types only; see {@link validateSecretPut}). */
export function readSecretPut(obj: JsonObject): SecretPutRequest {
  const request: SecretPutRequest = {
    path: stringField(obj, "path", ""),
    values: stringMapField(obj, "values"),
  };
  if (obj.cas !== undefined && obj.cas !== null) request.cas = intField(obj, "cas", { min: 0 });
  return request;
}

/** Reads a get or metadata body's shape. */
export function readSecretVersion(obj: JsonObject): Required<SecretVersionRequest> {
  return {
    path: stringField(obj, "path", ""),
    version: intField(obj, "version", { fallback: 0, min: 0 }),
  };
}

/** Reads a delete or undelete body's shape. */
export function readSecretVersions(obj: JsonObject): Required<SecretVersionsRequest> {
  return { path: stringField(obj, "path", ""), versions: intListField(obj, "versions") };
}

/**
 * Checks a secret path: 1..500 characters of upstream's set, made of
 * non-empty `/`-separated segments. Upstream's regex also takes `/a/b`, `a/`
 * and `a//b`, each a different secret from `a/b`, which reads the same; we
 * refuse them (400) so that one name is one secret.
 */
export function validateSecretPath(path: string): void {
  if (path.length === 0 || path.length > MAX_PATH_LENGTH || !PATH.test(path)) {
    throw invalid("path", "charset", SECRET_PATH_RULE, "invalid secret path");
  }
  if (path.startsWith("/") || path.endsWith("/") || path.includes("//")) {
    throw invalid(
      "path",
      "segments",
      "no leading, trailing or double /: one name, one secret",
      "invalid secret path: an empty segment (a leading, trailing or double /)",
    );
  }
}

/** Checks key names (1..250 of `[a-zA-Z0-9_ -]`) and the total size; returns the stored JSON. */
export function validateSecretValues(values: Record<string, string>): Uint8Array {
  for (const key of Object.keys(values)) {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
      throw invalid("values", "charset", KEY_NAME_RULE, "invalid key name");
    }
  }
  const sorted = Object.fromEntries(Object.entries(values).sort(([a], [b]) => a < b ? -1 : 1));
  const json = new TextEncoder().encode(JSON.stringify(sorted));
  if (json.length > MAX_SECRET_BYTES) {
    throw invalid("values", "size", MAX_SECRET_BYTES, "the secret is too large");
  }
  return json;
}
