/**
 * SPIFFE IDs and trust domains, parsed and validated exactly as the SPIFFE ID
 * specification says (`standards/SPIFFE-ID.md` in github.com/spiffe/spiffe), in the manner of go-spiffe's
 * `spiffeid` package: parsing rejects instead of normalising, and every
 * rejection says what was wrong.
 *
 * @module
 */

/** IDs longer than this are refused; the spec only obliges support up to it. */
export const MAX_ID_LENGTH = 2048;
/** Trust domain names longer than this are refused (as gRPC and the Rust crate do). */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

const SCHEME_PREFIX = "spiffe://";

/** Thrown for any text that is not a valid SPIFFE ID, trust domain or path. */
export class SpiffeIdError extends Error {
  override name = "SpiffeIdError";
}

/** A trust domain name such as `spike.ist`. Compare with {@link TrustDomain.equals}. */
export class TrustDomain {
  /** The bare name, e.g. `example.org`. */
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** @internal Used by the parsers below after validation. */
  static fromValidatedName(name: string): TrustDomain {
    return new TrustDomain(name);
  }

  /** The trust domain's own SPIFFE ID, `spiffe://<name>`. */
  idString(): string {
    return SCHEME_PREFIX + this.name;
  }

  /** The trust domain's own SPIFFE ID as a {@link SpiffeId}. */
  id(): SpiffeId {
    return SpiffeId.fromValidated(this, "");
  }

  /** True when both name the same trust domain. */
  equals(other: TrustDomain): boolean {
    return this.name === other.name;
  }

  toString(): string {
    return this.name;
  }
}

/** A parsed, valid SPIFFE ID. */
export class SpiffeId {
  readonly trustDomain: TrustDomain;
  /** The path, either empty or `/seg(/seg)*`. */
  readonly path: string;

  private constructor(trustDomain: TrustDomain, path: string) {
    this.trustDomain = trustDomain;
    this.path = path;
  }

  /** @internal Used by the parsers below after validation. */
  static fromValidated(trustDomain: TrustDomain, path: string): SpiffeId {
    return new SpiffeId(trustDomain, path);
  }

  /** True when the ID names a trust domain itself (empty path). */
  isTrustDomainId(): boolean {
    return this.path === "";
  }

  /** True when the ID belongs to the given trust domain. */
  memberOf(td: TrustDomain): boolean {
    return this.trustDomain.equals(td);
  }

  /** True when both IDs are the same (SPIFFE IDs compare as strings). */
  equals(other: SpiffeId): boolean {
    return this.toString() === other.toString();
  }

  /** The ID as `spiffe://<trust domain><path>`. */
  toString(): string {
    return SCHEME_PREFIX + this.trustDomain.name + this.path;
  }

  toJSON(): string {
    return this.toString();
  }
}

function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || c === 0x2d || c === 0x5f; // . - _
}

function isPathSegmentChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || // a-z A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || c === 0x2d || c === 0x5f; // . - _
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f
    ? `control character U+${code.toString(16).padStart(4, "0")}`
    : `"${ch}"`;
}

function validateTrustDomainName(name: string, context: string): void {
  if (name.length === 0) {
    throw new SpiffeIdError(`${context}: trust domain is missing`);
  }
  if (name.length > MAX_TRUST_DOMAIN_LENGTH) {
    throw new SpiffeIdError(
      `${context}: trust domain is ${name.length} characters long; at most ${MAX_TRUST_DOMAIN_LENGTH} are allowed`,
    );
  }
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (isTrustDomainChar(c)) continue;
    if (ch === ":") {
      throw new SpiffeIdError(`${context}: a port is not allowed in the trust domain`);
    }
    if (ch === "%") {
      throw new SpiffeIdError(`${context}: percent-encoding is not allowed`);
    }
    if (c >= 0x41 && c <= 0x5a) {
      throw new SpiffeIdError(
        `${context}: trust domain must be lowercase (found ${describeChar(ch)})`,
      );
    }
    throw new SpiffeIdError(
      `${context}: trust domain may contain only a-z, 0-9, ".", "-" and "_" (found ${
        describeChar(ch)
      })`,
    );
  }
}

/**
 * Validates a SPIFFE ID path: empty, or `/seg(/seg)*` with segments of
 * `[a-zA-Z0-9._-]`, none empty, `.` or `..`, and no trailing slash.
 * @throws {SpiffeIdError} naming the first problem found.
 */
export function validatePath(path: string, context = "invalid SPIFFE ID path"): void {
  if (path === "") return;
  if (path[0] !== "/") {
    throw new SpiffeIdError(`${context}: path must start with "/"`);
  }
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i === path.length || path[i] === "/") {
      const segment = path.slice(segmentStart, i);
      if (segment === "") {
        throw new SpiffeIdError(
          i === path.length
            ? `${context}: path must not end with "/"`
            : `${context}: path must not contain empty segments ("//")`,
        );
      }
      if (segment === "." || segment === "..") {
        throw new SpiffeIdError(`${context}: path must not contain "${segment}" segments`);
      }
      segmentStart = i + 1;
      continue;
    }
    const ch = path[i];
    if (isPathSegmentChar(ch.charCodeAt(0))) continue;
    if (ch === "%") throw new SpiffeIdError(`${context}: percent-encoding is not allowed`);
    if (ch === "?") throw new SpiffeIdError(`${context}: a query is not allowed`);
    if (ch === "#") throw new SpiffeIdError(`${context}: a fragment is not allowed`);
    throw new SpiffeIdError(
      `${context}: path segments may contain only a-z, A-Z, 0-9, ".", "-" and "_" (found ${
        describeChar(ch)
      })`,
    );
  }
}

/**
 * Parses `spiffe://<trust domain><path>`.
 * @throws {SpiffeIdError} with a message saying exactly what is wrong.
 */
export function parseSpiffeId(text: string): SpiffeId {
  const context = "invalid SPIFFE ID";
  if (text === "") throw new SpiffeIdError(`${context}: it is empty`);
  const byteLength = new TextEncoder().encode(text).length;
  if (byteLength > MAX_ID_LENGTH) {
    throw new SpiffeIdError(
      `${context}: it is ${byteLength} bytes long; at most ${MAX_ID_LENGTH} are allowed`,
    );
  }
  if (!text.startsWith(SCHEME_PREFIX)) {
    const lower = text.toLowerCase();
    if (lower.startsWith(SCHEME_PREFIX)) {
      throw new SpiffeIdError(`${context}: scheme must be lowercase "spiffe"`);
    }
    throw new SpiffeIdError(`${context}: scheme must be "spiffe://"`);
  }
  const rest = text.slice(SCHEME_PREFIX.length);
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  // Name URI parts that are never allowed before the per-character check does.
  if (authority.includes("?")) throw new SpiffeIdError(`${context}: a query is not allowed`);
  if (authority.includes("#")) throw new SpiffeIdError(`${context}: a fragment is not allowed`);
  if (authority.includes("@")) throw new SpiffeIdError(`${context}: user info is not allowed`);
  validateTrustDomainName(authority, context);
  validatePath(path, context);
  return SpiffeId.fromValidated(TrustDomain.fromValidatedName(authority), path);
}

/**
 * Parses a trust domain given as a bare name (`example.org`), as its SPIFFE ID
 * (`spiffe://example.org`) or as any SPIFFE ID inside it, as go-spiffe's
 * `TrustDomainFromString` does (the Workload API keys federated bundles that way).
 */
export function parseTrustDomain(text: string): TrustDomain {
  if (text.includes(":/")) return parseSpiffeId(text).trustDomain;
  validateTrustDomainName(text, "invalid trust domain");
  return TrustDomain.fromValidatedName(text);
}

/** Builds an ID in `td` from a path such as `/spike/nexus`, validating the path. */
export function spiffeIdFromPath(td: TrustDomain, path: string): SpiffeId {
  validatePath(path);
  const id = SpiffeId.fromValidated(td, path);
  const byteLength = new TextEncoder().encode(id.toString()).length;
  if (byteLength > MAX_ID_LENGTH) {
    throw new SpiffeIdError(
      `invalid SPIFFE ID: it is ${byteLength} bytes long; at most ${MAX_ID_LENGTH} are allowed`,
    );
  }
  return id;
}

/** Builds an ID in `td` from path segments, e.g. `("spike", "nexus")`. */
export function spiffeIdFromSegments(td: TrustDomain, ...segments: string[]): SpiffeId {
  return spiffeIdFromPath(td, segments.map((s) => "/" + s).join(""));
}
