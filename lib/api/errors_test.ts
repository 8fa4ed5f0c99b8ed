import assert from "node:assert/strict";
import { ApiError, ValidationError } from "./errors.ts";
import { parseJsonObject, stringField } from "./json.ts";
import { MAX_PATTERN_LENGTH, PERMISSIONS, validatePolicyPut } from "./policies.ts";
import {
  MAX_SECRET_BYTES,
  SECRET_PATH_RULE,
  validateSecretPath,
  validateSecretValues,
} from "./secrets.ts";

function caught(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ValidationError, `expected ValidationError, got ${e}`);
    return e;
  }
  assert.fail("did not throw");
}

Deno.test("a ValidationError is an api_bad_request ApiError, so servers answer 400", () => {
  const e = caught(() => validateSecretPath(""));
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 400);
  assert.equal(e.code, "api_bad_request");
  assert.equal(e.message, "api_bad_request: invalid secret path");
  assert.equal(e.detail, "invalid secret path");
});

Deno.test("validators name the field, the rule and its limit", () => {
  assert.deepEqual(
    pick(caught(() => validateSecretPath("a b"))),
    { field: "path", rule: "charset", limit: SECRET_PATH_RULE },
  );
  assert.deepEqual(
    pick(caught(() => validateSecretValues({ k: "x".repeat(MAX_SECRET_BYTES) }))),
    { field: "values", rule: "size", limit: MAX_SECRET_BYTES },
  );
  const policy = {
    name: "p",
    spiffeidPattern: "^spiffe://a/b$",
    pathPattern: "x",
    permissions: ["fly"],
  };
  assert.deepEqual(
    pick(caught(() => validatePolicyPut(policy))),
    { field: "permissions", rule: "one-of", limit: PERMISSIONS },
  );
  const long = {
    ...policy,
    permissions: ["read"],
    pathPattern: "a".repeat(MAX_PATTERN_LENGTH + 1),
  };
  assert.equal(caught(() => validatePolicyPut(long)).field, "pathPattern");
  const bad = { ...policy, permissions: ["read"], pathPattern: "a(" };
  assert.deepEqual(pick(caught(() => validatePolicyPut(bad))), {
    field: "pathPattern",
    rule: "syntax",
    limit: "RE2",
  });
  assert.deepEqual(pick(caught(() => stringField({ path: 1 }, "path"))), {
    field: "path",
    rule: "type",
    limit: "string",
  });
  assert.equal(caught(() => parseJsonObject(new TextEncoder().encode("[]"))).rule, "json");
});

function pick(e: ValidationError) {
  return { field: e.field, rule: e.rule, limit: e.limit };
}
