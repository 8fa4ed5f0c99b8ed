/**
 * Errors a client of Nexus or Keeper sees: the API's error code (from the
 * HTTP status, as the reference SDK reads it), or a transport failure.
 *
 * @module
 */

import { codeForStatus, type ErrorCode } from "../api/errors.ts";
import { TransportError, type TransportErrorKind } from "../tls/errors.ts";

export { TransportError, type TransportErrorKind };

/** A non-200 answer. */
export class ApiResponseError extends Error {
  override name = "ApiResponseError";
  /** The contract's error code, when the status maps to one. */
  readonly code: ErrorCode | undefined;

  constructor(
    readonly status: number,
    readonly url: string,
    /** The answer's body (most carry only the error code; a refused rekey also says why). */
    readonly body?: Uint8Array,
  ) {
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

/**
 * Whether sending the same request again may succeed: the server is not ready yet (503), or
 * the connection failed before an answer (refused or reset). Never true for a refused
 * identity, a timeout (the request may still be running) or a bad request.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof ApiResponseError) return e.status === 503;
  return e instanceof TransportError && (e.kind === "refused" || e.kind === "reset");
}
