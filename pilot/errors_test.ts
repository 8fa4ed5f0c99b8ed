import assert from "node:assert/strict";
import { ValidationError } from "../lib/api/errors.ts";
import { validatePolicyPut } from "../lib/api/policies.ts";
import { MAX_SECRET_BYTES, validateSecretPath, validateSecretValues } from "../lib/api/secrets.ts";
import { describeValidation } from "./errors.ts";

function worded(fn: () => unknown, given?: string): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ValidationError);
    return describeValidation(e, given);
  }
  assert.fail("did not throw");
}

Deno.test("Pilot words a bad path with what was typed and the rule", () => {
  assert.equal(
    worded(() => validateSecretPath("a b"), "a b"),
    "invalid secret path: a b (1-500 characters of a-z A-Z 0-9 . _ - / ( ) ? + * | [ ] { } \\)",
  );
});

Deno.test("Pilot words limits from the error, never the value", () => {
  const secret = "s3cr3t".repeat(MAX_SECRET_BYTES / 6 + 1);
  const text = worded(() => validateSecretValues({ k: secret }));
  assert.equal(text, `the secret is too large (at most ${MAX_SECRET_BYTES} bytes)`);
  assert.ok(!text.includes("s3cr3t"));
  assert.match(worded(() => validateSecretValues({ "a/b": "v" })), /^invalid key name \(1-250/);
  const policy = {
    name: "p",
    spiffeidPattern: "^spiffe://a/b$",
    pathPattern: "x",
    permissions: [],
  };
  assert.equal(worded(() => validatePolicyPut(policy)), "a policy needs at least one permission");
});
