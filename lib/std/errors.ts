/**
 * What every program says about a failure: the message of whatever was thrown.
 *
 * @module
 */

/** The message of an `Error`, or the thrown value as text (a `throw "x"` still reads). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
