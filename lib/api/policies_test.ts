import assert from "node:assert/strict";
import { ApiError } from "./errors.ts";
import type { JsonObject } from "./json.ts";
import {
  MAX_NAME_LENGTH,
  MAX_PATTERN_LENGTH,
  parsePolicyId,
  parsePolicyList,
  parsePolicyPut,
  PERMISSIONS,
  type PolicyPutRequest,
  readPolicyId,
  readPolicyPut,
  validatePolicyId,
  validatePolicyPut,
} from "./policies.ts";

function assertBadRequest(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, "api_bad_request");
    if (message) assert.match(e.message, message);
    return true;
  });
}

const GOOD: PolicyPutRequest = {
  name: "web-reader",
  spiffeidPattern: "^spiffe://spike\\.ist/web$",
  pathPattern: "^secrets/web/",
  permissions: ["read", "list"],
};

const put = (over: Partial<PolicyPutRequest>) => validatePolicyPut({ ...GOOD, ...over });

Deno.test("readPolicyPut reads types only; absent fields are Go's zero values", () => {
  assert.deepEqual(readPolicyPut({}), {
    name: "",
    spiffeidPattern: "",
    pathPattern: "",
    permissions: [],
  });
  assert.deepEqual(readPolicyPut({ ...GOOD, extra: 1 } as JsonObject), GOOD);
  // Field values are not checked yet: that comes after authorization.
  const unchecked = { name: "a/b", spiffeidPattern: ".*", pathPattern: "", permissions: ["x"] };
  assert.deepEqual(readPolicyPut(unchecked), unchecked);
});

Deno.test("readPolicyPut: wrong types are 400", () => {
  for (
    const bad of [
      { name: 1 },
      { spiffeidPattern: ["a"] },
      { pathPattern: {} },
      { permissions: "read" },
      { permissions: ["read", 1] },
    ]
  ) {
    assertBadRequest(() => readPolicyPut(bad));
  }
});

Deno.test("a valid upsert comes back ready to store", () => {
  assert.deepEqual(validatePolicyPut(GOOD), {
    name: "web-reader",
    spiffeIdPattern: "^spiffe://spike\\.ist/web$",
    pathPattern: "^secrets/web/",
    permissions: ["read", "list"],
  });
  assert.deepEqual(parsePolicyPut({ ...GOOD }), validatePolicyPut(GOOD));
});

Deno.test("policy names: 1..250 of letters, digits, '-', '_' and space", () => {
  for (const name of ["a", "web reader", "web-reader_2", "-", "_", " ", "x".repeat(250)]) {
    assert.equal(put({ name }).name, name);
  }
  for (const name of ["", "x".repeat(251), "a/b", "a.b", "é", "a\nb", "a\tb", "a,b", "[a]"]) {
    assertBadRequest(() => put({ name }), /invalid policy name/);
  }
  assert.equal(MAX_NAME_LENGTH, 250);
});

Deno.test("SPIFFE ID patterns follow upstream's API expression", () => {
  for (
    const ok of [
      "spiffe://spike.ist/web",
      "^spiffe://spike\\.ist/web$",
      "^spiffe://spike\\.ist/web/.*$",
      "spiffe://example.org/workload/*",
      "^spiffe://(a)?b+", // "?", "+" and "()" are in the set
      "spiffe://[a-z]+\\.org",
      "spiffe://spike.ist",
      "^spiffe://spike\\.ist/a_b/c-d$",
    ]
  ) {
    assert.equal(put({ spiffeidPattern: ok }).spiffeIdPattern, ok, ok);
  }
  for (
    const bad of [
      "",
      ".*", // rejected by the API, even though ADR-0033 talks about it
      "^.*$",
      "spiffe://a|b",
      "spiffe://a{2}",
      "spiffe:/a",
      "SPIFFE://a",
      "spiffe://",
      "spiffe://_a", // "_" is allowed in the path part only
      "xspiffe://a",
      "spiffe://a$$",
      "spiffe://a b",
      "spiffe://a/",
      "spiffe://a$x", // "$" only at the very end
    ]
  ) {
    assertBadRequest(() => put({ spiffeidPattern: bad }), /invalid SPIFFE ID pattern/);
  }
});

Deno.test("SPIFFE ID patterns: at most 500 characters", () => {
  const base = "spiffe://spike.ist/";
  const max = base + "a".repeat(MAX_PATTERN_LENGTH - base.length);
  assert.equal(put({ spiffeidPattern: max }).spiffeIdPattern, max);
  assertBadRequest(() => put({ spiffeidPattern: max + "a" }), /invalid SPIFFE ID pattern/);
});

Deno.test("SPIFFE ID pattern validation is linear (upstream's expression is not, under JS)", () => {
  // Under a backtracking engine this input takes about a second at 40 slashes and doubles
  // with every few more; here it must be instant.
  const evil = "spiffe://a" + "/".repeat(MAX_PATTERN_LENGTH - 11) + "!";
  assert.equal(evil.length, MAX_PATTERN_LENGTH);
  const start = performance.now();
  assertBadRequest(() => put({ spiffeidPattern: evil }), /invalid SPIFFE ID pattern/);
  const ms = performance.now() - start;
  console.log(`  rejected in ${ms.toFixed(1)} ms`);
  assert.ok(ms < 2000);
});

Deno.test("path patterns: 1..500 characters of upstream's set", () => {
  for (
    const ok of [
      "secrets/db",
      "^secrets/db$",
      "tenants/acme/*",
      "(?i)SECRETS",
      "^a/(b|c)/[0-9]{2}\\.x?$",
      "x".repeat(500),
    ]
  ) {
    assert.equal(put({ pathPattern: ok }).pathPattern, ok, ok);
  }
  // The set has no "," (so no {m,n} repeats), no "<" (no named groups) and no ":".
  const bad = ["", "x".repeat(501), "a b", "a,b", "a#b", "é", "a<b", "(?P<n>a)", "a:b", "x{2,3}"];
  for (const pattern of bad) {
    assertBadRequest(() => put({ pathPattern: pattern }), /invalid path pattern/);
  }
});

Deno.test("patterns must compile under RE2", () => {
  assertBadRequest(() => put({ pathPattern: "secrets/(" }), /pathPattern is not a valid RE2/);
  assertBadRequest(() => put({ pathPattern: "a++" }), /pathPattern is not a valid RE2/);
  assertBadRequest(() => put({ pathPattern: "a{1001}" }), /pathPattern is not a valid RE2/);
  assertBadRequest(() => put({ pathPattern: "*a" }), /pathPattern is not a valid RE2/);
  assertBadRequest(
    () => put({ spiffeidPattern: "^spiffe://spike.ist/(web$" }),
    /spiffeidPattern is not a valid RE2/,
  );
  assertBadRequest(
    () => put({ spiffeidPattern: "spiffe://[z-a]" }),
    /spiffeidPattern is not a valid RE2/,
  );
});

Deno.test("permissions: non-empty, each one of the five, duplicates removed", () => {
  assert.deepEqual(PERMISSIONS, ["read", "write", "list", "execute", "super"]);
  assert.deepEqual(put({ permissions: [...PERMISSIONS] }).permissions, PERMISSIONS);
  assert.deepEqual(put({ permissions: ["write", "read", "write", "read"] }).permissions, [
    "write",
    "read",
  ]);
  assertBadRequest(() => put({ permissions: [] }), /at least one permission/);
  for (const bad of ["READ", "admin", "", " read", "super "]) {
    assertBadRequest(() => put({ permissions: ["read", bad] }), /invalid permission/);
  }
});

Deno.test("fields are checked in upstream's order", () => {
  const allBad = { name: "", spiffeidPattern: "", pathPattern: "", permissions: [] };
  assertBadRequest(() => validatePolicyPut(allBad), /policy name/);
  assertBadRequest(() => validatePolicyPut({ ...allBad, name: "n" }), /SPIFFE ID pattern/);
  assertBadRequest(
    () => validatePolicyPut({ ...allBad, name: "n", spiffeidPattern: GOOD.spiffeidPattern }),
    /path pattern/,
  );
  assertBadRequest(
    () => put({ permissions: [], pathPattern: "secrets/(" }),
    /at least one permission/,
  );
});

Deno.test("the reserved-path guard runs at upsert (400, not upstream's 500)", () => {
  assertBadRequest(
    () => put({ spiffeidPattern: "spiffe://spike\\.ist/ops", pathPattern: "system" }),
    /reserved system path spike\/system\/acl only by substring match/,
  );
  assertBadRequest(
    () => put({ spiffeidPattern: "spiffe://spike\\.ist/ops", pathPattern: "^spike/system/acl$" }),
    /reserved system path/,
  );
  assertBadRequest(
    () => put({ spiffeidPattern: "^spiffe://spike\\.ist/ops$", pathPattern: "acl" }),
    /reserved system path/,
  );
  const ok = put({
    spiffeidPattern: "^spiffe://spike\\.ist/ops$",
    pathPattern: "^spike/system/acl$",
    permissions: ["write"],
  });
  assert.equal(ok.pathPattern, "^spike/system/acl$");
});

Deno.test("get and delete bodies carry the policy name in id", () => {
  assert.deepEqual(readPolicyId({}), { id: "" });
  assert.deepEqual(readPolicyId({ id: "not/valid" }), { id: "not/valid" });
  assert.equal(validatePolicyId({ id: "web-reader" }), "web-reader");
  assert.equal(parsePolicyId({ id: "web reader" }), "web reader");
  assertBadRequest(() => readPolicyId({ id: 7 }));
  assertBadRequest(() => parsePolicyId({}), /invalid policy name/);
  assertBadRequest(() => parsePolicyId({ id: "0b4a6c9e-1f5d-4b1e-9c53-2a0f3e1c8d7f/x" }));
  assertBadRequest(() => parsePolicyId({ id: "x".repeat(251) }));
});

Deno.test("list bodies: two optional exact-string filters, not validated", () => {
  assert.deepEqual(parsePolicyList({}), { spiffeidPattern: "", pathPattern: "" });
  assert.deepEqual(parsePolicyList({ spiffeidPattern: null, pathPattern: "(" }), {
    spiffeidPattern: "",
    pathPattern: "(",
  });
  assert.deepEqual(parsePolicyList({ spiffeidPattern: ".*" }), {
    spiffeidPattern: ".*",
    pathPattern: "",
  });
  assertBadRequest(() => parsePolicyList({ pathPattern: 1 }));
  assertBadRequest(() => parsePolicyList({ spiffeidPattern: [] }));
});
