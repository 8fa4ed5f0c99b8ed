/**
 * Reading request and response bodies the way the Go servers do: a JSON
 * object, unknown fields ignored, byte slices as padded standard base64,
 * fixed byte arrays as arrays of numbers. Anything else is a bad request.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { invalid } from "./errors.ts";

/** A decoded JSON object. */
export type JsonObject = Record<string, unknown>;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses a body that must be one JSON object. */
export function parseJsonObject(body: Uint8Array): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch {
    throw invalid("body", "json", undefined, "the body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("body", "json", undefined, "the body must be a JSON object");
  }
  return value as JsonObject;
}

/** A string field; absent or null gives `fallback` (Go's zero value) when one is given. */
export function stringField(obj: JsonObject, name: string, fallback?: string): string {
  const v = obj[name];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (typeof v !== "string") throw invalid(name, "type", "string", `"${name}" must be a string`);
  return v;
}

/** An integer field within bounds; absent or null gives `fallback` when one is given. */
export function intField(
  obj: JsonObject,
  name: string,
  { fallback, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: {
    fallback?: number;
    min?: number;
    max?: number;
  } = {},
): number {
  const v = obj[name];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw invalid(name, "type", "integer", `"${name}" must be a whole number`);
  }
  if (v < min || v > max) {
    throw invalid(name, "range", `${min} to ${max}`, `"${name}" is out of range`);
  }
  return v;
}

/** A list of integers; absent or null gives an empty list. */
export function intListField(obj: JsonObject, name: string, { min = 0 } = {}): number[] {
  const v = obj[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    throw invalid(name, "type", "integer[]", `"${name}" must be an array of whole numbers`);
  }
  return v.map((n) => {
    if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
      throw invalid(name, "range", min, `"${name}" must hold whole numbers of at least ${min}`);
    }
    return n;
  });
}

/** A list of strings; absent or null gives an empty list. */
export function stringListField(obj: JsonObject, name: string): string[] {
  const v = obj[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
    throw invalid(name, "type", "string[]", `"${name}" must be an array of strings`);
  }
  return v as string[];
}

/** A string-to-string map; absent or null gives an empty map. */
export function stringMapField(obj: JsonObject, name: string): Record<string, string> {
  const v = obj[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw invalid(name, "type", "object", `"${name}" must be an object`);
  }
  for (const value of Object.values(v as JsonObject)) {
    if (typeof value !== "string") {
      throw invalid(name, "type", "string", `"${name}" values must be strings`);
    }
  }
  return { ...(v as Record<string, string>) };
}

/** A fixed-length byte array sent as an array of numbers 0..255; null gives null. */
export function byteArrayField(obj: JsonObject, name: string, length: number): Uint8Array | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length !== length) {
    throw invalid(name, "length", length, `"${name}" must be an array of ${length} numbers`);
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const b = v[i];
    if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) {
      throw invalid(name, "range", "0 to 255", `"${name}" must hold numbers from 0 to 255`);
    }
    out[i] = b;
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True for padded standard base64, as Go's `base64.StdEncoding` reads it. */
export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

/** Decodes padded standard base64; check it with {@link isBase64} first. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Bytes sent as padded standard base64 (Go's `[]byte`); absent or null gives empty bytes. */
export function base64Field(obj: JsonObject, name: string): Uint8Array {
  const v = obj[name];
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v !== "string" || !isBase64(v)) {
    throw invalid(name, "type", "base64", `"${name}" must be standard base64`);
  }
  return fromBase64(v);
}

/** Encodes bytes as Go does for `[]byte`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Go's RFC 3339 form of a time: fractional seconds without trailing zeros
 * (none at all for whole seconds), in UTC (`Z`).
 */
export function goTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.replace(/\.(\d*?)0*Z$/, (_, frac: string) => frac ? `.${frac}Z` : "Z");
}
