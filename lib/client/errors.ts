/**
 * Errors a client of Nexus or Keeper sees: the API's error code (from the
 * HTTP status, as the reference SDK reads it), or a transport failure.
 *
 * @module
 */

import { codeForStatus, type ErrorCode } from "../api/errors.ts";

/** A non-200 answer. */
export class ApiResponseError extends Error {
  override name = "ApiResponseError";
  /** The contract's error code, when the status maps to one. */
  readonly code: ErrorCode | undefined;

  constructor(readonly status: number, readonly url: string) {
    const code = codeForStatus(status);
    super(`${url} answered ${status}${code ? ` (${code})` : ""}`);
    this.code = code;
  }
}

/** The body of a 200 answer as JSON, or an error naming the URL. */
export function jsonBody<T>(body: Uint8Array, url: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(body)) as T;
  } catch {
    throw new Error(`${url} answered with a body that is not JSON`);
  }
}
