/**
 * Pilot's exit codes, so scripts can tell outcomes apart (upstream exits 0 on
 * API errors). Documented in the README.
 *
 * @module
 */

import type { ErrorCode } from "../lib/api/errors.ts";

/** Exit codes. */
export const Exit = {
  ok: 0,
  /** Anything else: an internal error, a failed local file operation. */
  failure: 1,
  /** The command line is wrong. */
  usage: 2,
  /** The secret, version or policy does not exist. */
  notFound: 3,
  /** Our identity may not do this (401, or the wrong Pilot role). */
  unauthorized: 4,
  /** Nexus refused the input (400). */
  badRequest: 5,
  /** Nexus is not ready (503) or cannot be reached. */
  unavailable: 6,
  /**
   * The configuration or the machine stops the command, not what was typed:
   * a variable that is invalid or outside the granted permissions, a file
   * that cannot be read or written.
   */
  config: 7,
} as const;

/** The exit code for an API error code. */
export function exitForCode(code: ErrorCode | undefined): number {
  switch (code) {
    case "api_not_found":
      return Exit.notFound;
    case "access_unauthorized":
      return Exit.unauthorized;
    case "api_bad_request":
      return Exit.badRequest;
    case "state_not_ready":
    case "api_rate_limited":
      return Exit.unavailable;
    default:
      return Exit.failure;
  }
}
