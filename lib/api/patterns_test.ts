import assert from "node:assert/strict";
import { ApiError } from "./errors.ts";
import {
  checkReservedAtUpsert,
  compilePattern,
  isPreciseIdentity,
  RESERVED_PATHS,
} from "./patterns.ts";

const ACL = "spike/system/acl";

function assertBadRequest(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, "api_bad_request");
    if (message) assert.match(e.message, message);
    return true;
  });
}

Deno.test("find is an unanchored RE2 search, as Go's MatchString", () => {
  const cases: [pattern: string, text: string, want: boolean][] = [
    ["secrets/db", "secrets/db", true],
    ["secrets/db", "global/secrets/db", true],
    ["secrets/db", "secrets/db/creds", true],
    ["secrets/db", "secrets/dc", false],
    ["^secrets/db$", "global/secrets/db", false],
    ["^secrets/db$", "secrets/db/creds", false],
    ["^secrets/db$", "secrets/db", true],
    ["^secrets/", "secrets/x", true],
    ["^secrets/", "a/secrets/x", false],
    // A regex, not a glob: "tenants/acme" followed by zero or more "/".
    ["tenants/acme/*", "tenants/acme", true],
    ["tenants/acme/*", "tenants/acmecorp/db", true],
    ["^tenants/acme/*$", "tenants/acme/db", false],
    ["^tenants/acme/.*$", "tenants/acme/db", true],
    // Inline flags: RE2 syntax that JavaScript RegExp rejects.
    ["(?i)SECRETS", "app/secrets/db", true],
    ["(?i)^SECRETS/DB$", "secrets/db", true],
    ["SECRETS", "app/secrets/db", false],
    ["(?s)a.b", "a\nb", true],
    ["a.b", "a\nb", false],
    ["(?m)^b$", "a\nb\nc", true],
    ["^b$", "a\nb\nc", false],
    // Go's $ without (?m) is the end of text only, never before a final newline.
    ["a$", "a\n", false],
    ["\\Qa.b\\E", "xa.by", true],
    ["\\Qa.b\\E", "axb", false],
    ["\\pL+", "é", true],
    ["x{2,3}", "axxb", true],
    ["", "anything", true],
    ["spiffe://spike\\.ist/ops", "spiffe://spike.ist/ops-evil", true],
    ["^spiffe://spike\\.ist/ops$", "spiffe://spike.ist/ops-evil", false],
    ["^spiffe://spike\\.ist/ops$", "spiffe://spikexist/ops", false],
  ];
  for (const [pattern, text, want] of cases) {
    assert.equal(
      compilePattern(pattern).find(text),
      want,
      `${pattern} find ${JSON.stringify(text)}`,
    );
  }
});

Deno.test("patterns outside RE2 syntax are refused with 400", () => {
  for (
    const bad of [
      "a)|(b", // would escape a naive ^(?:...)$ wrapper
      "abc\\",
      "(?<=a)b", // lookbehind
      "(a)\\1", // backreference
      "a++", // possessive
      "a{1001}",
      "[z-a]",
      "(?x)a", // not an RE2 flag
      "*",
    ]
  ) {
    assertBadRequest(() => compilePattern(bad, "pathPattern"), /^api_bad_request: pathPattern /);
  }
});

Deno.test("a compile error names the problem, not the pattern", () => {
  assert.throws(() => compilePattern("secret-(x"), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.ok(!e.message.includes("secret-(x"), e.message);
    assert.match(e.message, /missing closing \)/);
    return true;
  });
});

Deno.test("describes is a full match of ^(?:pattern)$", () => {
  const cases: [pattern: string, text: string, want: boolean][] = [
    // ADR-0033's examples.
    [ACL, ACL, true],
    ["^spike/system/acl$", ACL, true],
    ["^spike/system/.*$", ACL, true],
    [".*", ACL, true],
    ["^.*$", ACL, true],
    ["acl", ACL, false],
    ["system", ACL, false],
    ["spike", ACL, false],
    ["^spike", ACL, false],
    ["acl$", ACL, false],
    // Alternation is grouped before anchoring.
    ["x|spike/system/acl", ACL, true],
    ["spike/system/acl|x", ACL, true],
    ["acl|x", ACL, false],
    // Flags set inside the pattern end with its group.
    ["(?m)spike/system/acl", ACL, true],
    ["(?i)SPIKE/SYSTEM/ACL", ACL, true],
  ];
  for (const [pattern, text, want] of cases) {
    assert.equal(compilePattern(pattern).describes(text), want, `${pattern} describes ${text}`);
  }
});

Deno.test("a precise identity is anchored at both ends, or a deliberate catch-all", () => {
  const cases: [pattern: string, want: boolean][] = [
    ["^spiffe://example\\.org/admin$", true],
    ["^spiffe://example\\.org/.*$", true],
    ["^.*$", true],
    [".*", true],
    ["(?s).*", true],
    ["spiffe://example\\.org/admin", false],
    ["admin", false],
    ["^spiffe://example\\.org/admin", false],
    ["spiffe://example\\.org/admin$", false],
    ["", false],
    ["(", false], // does not compile
  ];
  for (const [pattern, want] of cases) {
    assert.equal(isPreciseIdentity(pattern), want, pattern);
  }
});

Deno.test("the reserved paths are upstream's, in order", () => {
  assert.deepEqual(RESERVED_PATHS, [
    "spike/system/acl",
    "spike/system/secret",
    "spike/system/cipher/exec",
  ]);
});

Deno.test("upsert refuses patterns that reach a reserved path by substring", () => {
  const anchoredId = "^spiffe://example\\.org/audit$";
  for (const path of ["acl", "system", "spike", "secret", "exec", "^spike/system/ac"]) {
    assertBadRequest(
      () => checkReservedAtUpsert(anchoredId, path),
      /reserved system path spike\/system\/[a-z/]+ only by substring match; anchor both patterns/,
    );
  }
  // The first reserved path the pattern reaches is the one named.
  assertBadRequest(() => checkReservedAtUpsert(anchoredId, "system"), /path spike\/system\/acl /);
  assertBadRequest(() => checkReservedAtUpsert(anchoredId, "secret"), /spike\/system\/secret /);
  assertBadRequest(() => checkReservedAtUpsert(anchoredId, "exec"), /cipher\/exec /);
  // A loose SPIFFE ID pattern is refused even when the path pattern is anchored.
  assertBadRequest(() =>
    checkReservedAtUpsert("spiffe://example\\.org/admin", "^spike/system/acl$")
  );
  assertBadRequest(() => checkReservedAtUpsert("spiffe://spike\\.ist/ops", "system"));
  // A path pattern that does not compile is a 400 too.
  assertBadRequest(() => checkReservedAtUpsert(anchoredId, "secrets/("), /pathPattern/);
});

Deno.test("upsert accepts deliberate reserved-path policies and ordinary ones", () => {
  checkReservedAtUpsert("^spiffe://spike\\.ist/ops$", "^spike/system/acl$");
  checkReservedAtUpsert("^spiffe://spike\\.ist/ops$", "^spike/system/.*$");
  // Anchored at one end is enough for the path when it still matches all of it.
  checkReservedAtUpsert("^spiffe://spike\\.ist/ops$", "^spike/system/acl");
  checkReservedAtUpsert(".*", ".*");
  checkReservedAtUpsert("spiffe://spike\\.ist/web", "^tenants/acme/");
  checkReservedAtUpsert("spiffe://spike\\.ist/web", "secrets/db");
});

Deno.test("compiled patterns are cached by text", () => {
  const a = compilePattern("^cache/me$");
  assert.equal(compilePattern("^cache/me$"), a);
  assert.equal(a.source, "^cache/me$");
  // Filling the cache evicts the least recently used; results stay correct.
  for (let i = 0; i < 1100; i++) compilePattern(`^fill/${i}$`);
  const b = compilePattern("^cache/me$");
  assert.notEqual(b, a);
  assert.ok(b.find("cache/me") && !b.find("cache/me/not"));
});
