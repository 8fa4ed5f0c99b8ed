/**
 * The error codes SPIKE servers put in `err` (Keeper: `Err`), and the HTTP
 * status each travels with. Clients key off the status; bodies carry codes
 * only, never a message or a submitted value.
 *
 * @module
 */

/** Codes a server answers with, by HTTP status. */
export const ERROR_STATUS = {
  api_bad_request: 400,
  access_unauthorized: 401,
  api_not_found: 404,
  /** Ours, not upstream's: a put's compare-and-set (`cas`) found another current version. */
  api_conflict: 409,
  api_internal_error: 500,
  state_not_ready: 503,
} as const;

/** An error code of the wire contract. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** A failure to answer with a code (and its status). Never carries a secret. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;

  constructor(readonly code: ErrorCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.status = ERROR_STATUS[code];
  }
}

/** The code that goes with an HTTP status, as the reference SDK reads responses. */
export function codeForStatus(status: number): ErrorCode | undefined {
  for (const [code, s] of Object.entries(ERROR_STATUS)) {
    if (s === status) return code as ErrorCode;
  }
  return undefined;
}

/** Shorthands for the common failures. */
export const badRequest = (detail?: string) => new ApiError("api_bad_request", detail);
export const unauthorized = (detail?: string) => new ApiError("access_unauthorized", detail);
export const notFound = (detail?: string) => new ApiError("api_not_found", detail);
export const internalError = (detail?: string) => new ApiError("api_internal_error", detail);
export const notReady = (detail?: string) => new ApiError("state_not_ready", detail);
