/**
 * The path and `action` of a request target (`/v1/store/secrets?action=get`),
 * as WHATWG `URL` reads them. A target made only of plain path segments is
 * its own path under `URL`'s rules, so it is taken as it is and only its
 * query is parsed; any other target (dots, percent escapes, `//`, spaces, no
 * leading slash) goes through `URL`, which normalizes it. The two agree on
 * every target (`target_test.ts`); the short way saves `URL`'s parse on
 * every request.
 *
 * @module
 */

/** One or more `/segment`s of letters, digits, `-` and `_`: `URL` leaves such a path unchanged. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-]+)+\/?$/;

/** What routing needs of a request target. */
export interface RequestTarget {
  /** The path, as `URL.pathname` gives it. */
  pathname: string;
  /** The `action` query parameter (empty when absent), as `URLSearchParams` gives it. */
  action: string;
}

/** Reads `raw` (a request's `req.url`) as `new URL(raw, base)` would. */
export function requestTarget(raw: string): RequestTarget {
  const query = raw.indexOf("?");
  const hash = raw.indexOf("#");
  const path = query === -1 ? raw : raw.slice(0, query);
  if (hash === -1 && PLAIN_PATH.test(path)) {
    const action = query === -1 ? null : new URLSearchParams(raw.slice(query + 1)).get("action");
    return { pathname: path, action: action ?? "" };
  }
  const url = new URL(raw, "https://nexus.invalid");
  return { pathname: url.pathname, action: url.searchParams.get("action") ?? "" };
}
