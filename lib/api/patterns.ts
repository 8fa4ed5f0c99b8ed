/**
 * Policy patterns: RE2 regular expressions (linear time, Go's `regexp`
 * syntax, via `npm:re2js`) matched unanchored, as upstream does, and the
 * reserved system paths of ADR-0033. Nexus decides access with them; the
 * contract validates policies with them.
 *
 * Patterns are regular expressions, not globs: `secrets/db` also matches
 * `global/secrets/db`. Caller-supplied patterns only ever run under re2js;
 * JavaScript `RegExp` never sees one.
 *
 * @module
 */

import { RE2JS, RE2JSException, RE2JSSyntaxException } from "re2js";
import { invalid } from "./errors.ts";

/** A compiled policy pattern, with Go's matching semantics. */
export interface CompiledPattern {
  /** The pattern text as written. */
  readonly source: string;
  /** True when the pattern matches anywhere in `text` (Go's `MatchString`). */
  find(text: string): boolean;
  /**
   * True when the pattern matches all of `text`, as `^(?:pattern)$` does: the
   * pattern describes the text rather than merely occurring inside it.
   */
  describes(text: string): boolean;
}

/**
 * SPIKE's own privileged namespaces, in the order the upsert guard tries them:
 * policy management, secret listing, and the cipher API.
 */
export const RESERVED_PATHS = [
  "spike/system/acl",
  "spike/system/secret",
  "spike/system/cipher/exec",
] as const;

/** A value no real SPIFFE ID or path equals; only a catch-all pattern describes it. */
const ARBITRARY_PROBE = "spike-arbitrary-probe-value";

/** How many compiled patterns stay cached (least recently used go first). */
const CACHE_LIMIT = 1000;
const cache = new Map<string, CompiledPattern>();

class Re2Pattern implements CompiledPattern {
  readonly source: string;
  readonly #re: RE2JS;
  // Compiled on first use; null when the full-match form does not compile.
  #full: RE2JS | null | undefined;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.#re = re;
  }

  find(text: string): boolean {
    return this.#re.test(text);
  }

  describes(text: string): boolean {
    if (this.#full === undefined) {
      try {
        this.#full = RE2JS.compile(`^(?:${this.source})$`);
      } catch {
        this.#full = null;
      }
    }
    return this.#full !== null && this.#full.test(text);
  }
}

function syntaxProblem(e: unknown): string {
  // The description alone: the exception's message would quote the pattern.
  if (e instanceof RE2JSSyntaxException) return e.getDescription();
  if (e instanceof RE2JSException) return e.message;
  throw e;
}

/**
 * Compiles a policy pattern with RE2 semantics, the syntax of Go's `regexp`
 * (inline flags such as `(?i)` included; no backreferences or lookaround).
 * Results are cached by pattern text, so recompiling a stored pattern on every
 * request costs a map lookup.
 *
 * @param label names the pattern in the error, e.g. `"pathPattern"`.
 * @throws {ApiError} `api_bad_request` when the pattern does not compile.
 */
export function compilePattern(pattern: string, label = "the pattern"): CompiledPattern {
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    cache.delete(pattern);
    cache.set(pattern, hit);
    return hit;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const problem = syntaxProblem(e);
    throw invalid(
      label,
      "syntax",
      "RE2",
      `${label} is not a valid RE2 regular expression: ${problem}`,
      problem,
    );
  }
  const compiled = new Re2Pattern(pattern, re);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(pattern, compiled);
  return compiled;
}

/** Compiles `pattern`, or null when it does not compile. */
export function tryCompile(pattern: string): CompiledPattern | null {
  try {
    return compilePattern(pattern);
  } catch {
    return null;
  }
}

/**
 * True when a SPIFFE ID pattern picks out identities precisely enough to be
 * trusted with a reserved path: it is anchored at both ends (starts with `^`,
 * ends with `$`), or it is a deliberate catch-all (its full-match form accepts
 * an arbitrary value). A pattern that does not compile is never precise.
 */
export function isPreciseIdentity(spiffeIdPattern: string): boolean {
  if (spiffeIdPattern.startsWith("^") && spiffeIdPattern.endsWith("$")) return true;
  return tryCompile(spiffeIdPattern)?.describes(ARBITRARY_PROBE) ?? false;
}

/** True when `path` is one of the {@link RESERVED_PATHS}. */
export function isReservedPath(path: string): boolean {
  return (RESERVED_PATHS as readonly string[]).includes(path);
}

/**
 * The upsert guard of ADR-0033: a policy whose path pattern reaches a reserved
 * system path (the first one, in {@link RESERVED_PATHS} order, that it matches
 * anywhere) must describe that path and have a precise SPIFFE ID pattern
 * ({@link isPreciseIdentity}). Ordinary paths are unaffected.
 *
 * Upstream answers a violation with 500; we answer 400, as for any invalid input.
 *
 * @throws {ApiError} `api_bad_request` when a pattern does not compile or the
 * policy reaches a reserved path only by substring match.
 */
export function checkReservedAtUpsert(spiffeIdPattern: string, pathPattern: string): void {
  const path = compilePattern(pathPattern, "pathPattern");
  const reserved = RESERVED_PATHS.find((r) => path.find(r));
  if (reserved === undefined) return;
  if (path.describes(reserved) && isPreciseIdentity(spiffeIdPattern)) return;
  throw invalid(
    "pathPattern",
    "reserved",
    reserved,
    `the policy reaches the reserved system path ${reserved} only by substring match; ` +
      "anchor both patterns with ^ and $ to grant access there deliberately",
  );
}
