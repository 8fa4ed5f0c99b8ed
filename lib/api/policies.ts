/**
 * The contract of the policy routes (`/v1/acl/policy`): request and response
 * bodies, and the validation upstream applies to names, patterns and
 * permissions. Routes read a body's shape first (bad types are 400), then
 * authorize, then validate the fields; hence separate readers and validators.
 *
 * Patterns must also compile under RE2 and pass the reserved-path guard of
 * `lib/api/patterns.ts`; a pattern that fails either is 400 (upstream: 500).
 *
 * @module
 */

import { checkReservedAtUpsert, type CompiledPattern, compilePattern } from "./patterns.ts";
import { invalid } from "./errors.ts";
import { type JsonObject, stringField, stringListField } from "./json.ts";

/** Every permission a policy may hold, in upstream's order. `super` implies the others. */
export const PERMISSIONS = ["read", "write", "list", "execute", "super"] as const;
/** A permission a policy grants. */
export type Permission = typeof PERMISSIONS[number];

/** Longest policy name. */
export const MAX_NAME_LENGTH = 250;
/** Longest SPIFFE ID pattern and longest path pattern. */
export const MAX_PATTERN_LENGTH = 500;

const NAME = /^[a-zA-Z0-9_ -]+$/;
const PATH_PATTERN = /^[a-zA-Z0-9._\-/^$()?+*|[\]{}\\]+$/;
/** What a policy name may be, in words. */
export const POLICY_NAME_RULE =
  `1 to ${MAX_NAME_LENGTH} characters of a-z A-Z 0-9 "-" "_" and space`;
/** What a path pattern may be, in words (it must also compile under RE2). */
export const PATH_PATTERN_RULE =
  `1 to ${MAX_PATTERN_LENGTH} characters of a-z A-Z 0-9 and ._-/^$()?+*|[]{}\\`;
/** What a SPIFFE ID pattern may be, in words (it must also compile under RE2). */
export const SPIFFE_ID_PATTERN_RULE =
  `[^]spiffe://<trust domain>[/<path>][$], at most ${MAX_PATTERN_LENGTH} characters`;
// Upstream's exact expression. It runs under RE2: under a backtracking engine its
// `(/[...]+)*` group (whose class also holds "/") is exponential on inputs like
// "spiffe://a" followed by many slashes and one bad character.
// Compiled on first use: RE2 compiles it in ~10 ms, which every program's start would pay.
let compiledSpiffeIdPattern: CompiledPattern | undefined;
const spiffeIdPattern = () =>
  compiledSpiffeIdPattern ??= compilePattern(
    String.raw`^\^?spiffe://[\\a-zA-Z0-9.\-*()+?\[\]]+(/[\\/a-zA-Z0-9._\-*()+?\[\]]+)*\$?$`,
  );

/** `POST /v1/acl/policy` body (upsert). `permissions` are unchecked strings until validated. */
export interface PolicyPutRequest {
  name: string;
  spiffeidPattern: string;
  pathPattern: string;
  permissions: string[];
}

/** `?action=get|delete` body. The `id` carries the policy's name, as upstream. */
export interface PolicyIdRequest {
  id: string;
}

/** `?action=list` body: exact-string filters; empty or absent means none. */
export interface PolicyListRequest {
  spiffeidPattern?: string;
  pathPattern?: string;
}

/** `?action=get` answer. */
export interface PolicyResponse {
  /** Always `""`: upstream neither makes nor stores policy IDs. */
  id: string;
  name: string;
  /** Upstream's spelling (requests say `spiffeidPattern`); kept for compatibility. */
  spiffiedPattern: string;
  pathPattern: string;
  permissions: string[];
  /** RFC 3339, as Go writes a `time.Time`. */
  createdAt: string;
  /** RFC 3339, as Go writes a `time.Time`. */
  updatedAt: string;
}

/** `?action=list` answer. */
export interface PolicyListResponse {
  /** One entry per policy, `id` always `""`. */
  policies: { id: string; name: string }[];
}

/** An upsert that passed every check: ready to store. */
export interface ValidPolicy {
  name: string;
  spiffeIdPattern: string;
  pathPattern: string;
  /** Distinct, in the order first given. */
  permissions: Permission[];
}

/** Reads an upsert body's shape (types only; see {@link validatePolicyPut}). */
export function readPolicyPut(obj: JsonObject): PolicyPutRequest {
  return {
    name: stringField(obj, "name", ""),
    spiffeidPattern: stringField(obj, "spiffeidPattern", ""),
    pathPattern: stringField(obj, "pathPattern", ""),
    permissions: stringListField(obj, "permissions"),
  };
}

/**
 * Checks an upsert in upstream's order (name, SPIFFE ID pattern, path pattern,
 * permissions), then compiles both patterns under RE2 and applies the
 * reserved-path guard.
 *
 * @throws {ApiError} `api_bad_request` naming the first problem.
 */
export function validatePolicyPut(req: PolicyPutRequest): ValidPolicy {
  validatePolicyName(req.name);
  const spiffe = req.spiffeidPattern;
  if (spiffe.length > MAX_PATTERN_LENGTH || !spiffeIdPattern().find(spiffe)) {
    throw invalid(
      "spiffeidPattern",
      "charset",
      SPIFFE_ID_PATTERN_RULE,
      `invalid SPIFFE ID pattern: ${SPIFFE_ID_PATTERN_RULE}`,
    );
  }
  const path = req.pathPattern;
  if (path.length === 0 || path.length > MAX_PATTERN_LENGTH || !PATH_PATTERN.test(path)) {
    throw invalid(
      "pathPattern",
      "charset",
      PATH_PATTERN_RULE,
      `invalid path pattern: ${PATH_PATTERN_RULE}`,
    );
  }
  const permissions = validatePermissions(req.permissions);
  compilePattern(spiffe, "spiffeidPattern");
  compilePattern(path, "pathPattern");
  checkReservedAtUpsert(spiffe, path);
  return { name: req.name, spiffeIdPattern: spiffe, pathPattern: path, permissions };
}

/** Reads and validates an upsert body in one step (for callers with no guard between). */
export function parsePolicyPut(obj: JsonObject): ValidPolicy {
  return validatePolicyPut(readPolicyPut(obj));
}

/** Reads a get or delete body's shape. */
export function readPolicyId(obj: JsonObject): PolicyIdRequest {
  return { id: stringField(obj, "id", "") };
}

/**
 * Checks a get or delete body: its `id` must be a valid policy name.
 * @returns the policy name.
 * @throws {ApiError} `api_bad_request` when it is not.
 */
export function validatePolicyId(req: PolicyIdRequest): string {
  validatePolicyName(req.id);
  return req.id;
}

/** Reads and validates a get or delete body; returns the policy name. */
export function parsePolicyId(obj: JsonObject): string {
  return validatePolicyId(readPolicyId(obj));
}

/**
 * Reads a list body. Upstream does not validate the filters (they are compared
 * as strings, never run), so neither do we. Absent filters read as `""`.
 */
export function parsePolicyList(obj: JsonObject): Required<PolicyListRequest> {
  return {
    spiffeidPattern: stringField(obj, "spiffeidPattern", ""),
    pathPattern: stringField(obj, "pathPattern", ""),
  };
}

function validatePolicyName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw invalid("name", "charset", POLICY_NAME_RULE, `invalid policy name: ${POLICY_NAME_RULE}`);
  }
}

function validatePermissions(given: string[]): Permission[] {
  if (given.length === 0) {
    throw invalid("permissions", "required", PERMISSIONS, "a policy needs at least one permission");
  }
  const out: Permission[] = [];
  for (const p of given) {
    if (!(PERMISSIONS as readonly string[]).includes(p)) {
      throw invalid(
        "permissions",
        "one-of",
        PERMISSIONS,
        `invalid permission: each must be one of ${PERMISSIONS.join(", ")}`,
      );
    }
    if (!out.includes(p as Permission)) out.push(p as Permission);
  }
  return out;
}
