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
  /** Ours: the caller's SPIFFE ID is over its rate for this kind of route; see `Retry-After`. */
  api_rate_limited: 429,
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

/**
 * What a {@link ValidationError} found wrong:
 * - `json`: the body is not one JSON object; `type`: a field has the wrong JSON type;
 * - `range`: a number outside `limit`; `length`: a text or list not of the allowed length;
 * - `charset`: a text outside its allowed length and characters (`limit` describes both);
 * - `size`: too many bytes (`limit`: the most); `one-of`: not among `limit`'s choices;
 * - `required`: missing or empty; `syntax`: a pattern that does not compile;
 * - `reserved`: reaches a reserved path without saying so; `mismatch`: two fields disagree.
 */
export type ValidationRule =
  | "json"
  | "type"
  | "range"
  | "length"
  | "charset"
  | "size"
  | "one-of"
  | "required"
  | "syntax"
  | "segments"
  | "reserved"
  | "mismatch";

/**
 * Input that breaks a rule of the contract. It is an `api_bad_request` {@link ApiError}, so a
 * server answers 400 with no message; clients that check input before sending (Pilot) word it
 * from `field`, `rule` and `limit` instead of parsing the message. Never carries the value.
 */
export class ValidationError extends ApiError {
  override name = "ValidationError";

  /**
   * @param field the request field (`"path"`, `"pathPattern"`, `"body"`, ...).
   * @param limit what the rule allows: a number (most bytes, exact length), a description
   *   (`"1 to 500 characters of ..."`) or the allowed choices.
   * @param detail one sentence naming the problem (and the limit).
   * @param reason what exactly broke the rule, when the rule's checker says (e.g. RE2's syntax
   *   error for a `syntax` failure); never a submitted secret value.
   */
  constructor(
    readonly field: string,
    readonly rule: ValidationRule,
    readonly limit: number | string | readonly string[] | undefined,
    readonly detail: string,
    readonly reason?: string,
  ) {
    super("api_bad_request", detail);
  }
}

/** Shorthand for `new ValidationError(...)`. */
export const invalid = (
  field: string,
  rule: ValidationRule,
  limit: number | string | readonly string[] | undefined,
  detail: string,
  reason?: string,
) => new ValidationError(field, rule, limit, detail, reason);

/** The code that goes with an HTTP status, as the reference SDK reads responses. */
export function codeForStatus(status: number): ErrorCode | undefined {
  for (const [code, s] of Object.entries(ERROR_STATUS)) {
    if (s === status) return code as ErrorCode;
  }
  return undefined;
}

/** Over the caller's rate: answered 429 with `Retry-After: retryAfterSeconds`. */
export class RateLimitedError extends ApiError {
  override name = "RateLimitedError";
  constructor(readonly retryAfterSeconds: number) {
    super("api_rate_limited");
  }
}

/** Shorthands for the common failures. */
export const badRequest = (detail?: string) => new ApiError("api_bad_request", detail);
export const unauthorized = (detail?: string) => new ApiError("access_unauthorized", detail);
export const notFound = (detail?: string) => new ApiError("api_not_found", detail);
export const internalError = (detail?: string) => new ApiError("api_internal_error", detail);
export const notReady = (detail?: string) => new ApiError("state_not_ready", detail);
