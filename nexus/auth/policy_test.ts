import assert from "node:assert/strict";
import type { Permission } from "../../lib/api/policies.ts";
import { type Role, roleMatcher } from "../../lib/identity/roles.ts";
import { parseSpiffeId, type SpiffeId } from "../../lib/spiffe/id.ts";
import { compilePattern, RESERVED_PATHS } from "../../lib/api/patterns.ts";
import { authorizeRequest, policyGrants, type StoredPolicy } from "./policy.ts";

const ACL = "spike/system/acl";

function policy(
  spiffeIdPattern: string,
  pathPattern: string,
  permissions: Permission[],
  name = "p",
): StoredPolicy {
  const at = new Date(0);
  return { name, spiffeIdPattern, pathPattern, permissions, createdAt: at, updatedAt: at };
}

Deno.test("policyGrants: identity and path match anywhere; every wanted permission", () => {
  const web = "spiffe://spike.ist/web";
  const policies = [policy("spiffe://spike\\.ist/web", "^tenants/acme/", ["read", "list"])];
  assert.ok(policyGrants(policies, web, "tenants/acme/db/creds", ["read"]));
  assert.ok(policyGrants(policies, web, "tenants/acme/db/creds", ["read", "list"]));
  assert.ok(policyGrants(policies, web, "tenants/acme/db/creds", []));
  assert.ok(!policyGrants(policies, web, "tenants/acme/db/creds", ["write"]));
  assert.ok(!policyGrants(policies, web, "tenants/acme/db/creds", ["read", "write"]));
  assert.ok(!policyGrants(policies, web, "x/tenants/acme/db", ["read"]));
  // The identity pattern is unanchored: a lookalike matches.
  assert.ok(policyGrants(policies, "spiffe://spike.ist/web-evil", "tenants/acme/x", ["read"]));
  assert.ok(!policyGrants(policies, "spiffe://spike.ist/api", "tenants/acme/x", ["read"]));
  assert.ok(!policyGrants([], web, "tenants/acme/x", ["read"]));
});

Deno.test("policyGrants: super satisfies every permission", () => {
  const policies = [policy("^spiffe://spike\\.ist/admin$", "secrets", ["super"])];
  const admin = "spiffe://spike.ist/admin";
  for (const p of ["read", "write", "list", "execute", "super"] as const) {
    assert.ok(policyGrants(policies, admin, "secrets/db", [p]));
  }
  assert.ok(policyGrants(policies, admin, "secrets/db", ["read", "write", "execute"]));
  // Asking for super needs super.
  const reader = [policy(".*", ".*", ["read", "write", "list", "execute"])];
  assert.ok(!policyGrants(reader, admin, "secrets/db", ["super"]));
});

Deno.test("policyGrants: any matching policy grants; none deny", () => {
  const policies = [
    policy("spiffe://spike\\.ist/web", "secrets", ["read"], "a"),
    policy("spiffe://spike\\.ist/web", "secrets", ["write"], "b"),
  ];
  assert.ok(policyGrants(policies, "spiffe://spike.ist/web", "secrets/x", ["read"]));
  assert.ok(policyGrants(policies, "spiffe://spike.ist/web", "secrets/x", ["write"]));
  // Permissions do not combine across policies.
  assert.ok(!policyGrants(policies, "spiffe://spike.ist/web", "secrets/x", ["read", "write"]));
});

Deno.test("policyGrants: a policy that does not compile is skipped", () => {
  const peer = "spiffe://spike.ist/web";
  const broken = [policy("spiffe://(", "secrets", ["super"]), policy(".*", "secrets/(", ["super"])];
  assert.ok(!policyGrants(broken, peer, "secrets/x", ["read"]));
  const mixed = [...broken, policy("spiffe://spike\\.ist/web", "secrets", ["read"])];
  assert.ok(policyGrants(mixed, peer, "secrets/x", ["read"]));
});

Deno.test("RE2 matching is linear: catastrophic-backtracking patterns finish fast", () => {
  const text = "a".repeat(50_000) + "!";
  for (const pattern of ["(a+)+$", "(a|aa)+$", "(a*)*b", "^(a|a?)+$", "(.*a){20}$"]) {
    const compiled = compilePattern(pattern);
    const start = performance.now();
    const found = compiled.find(text);
    const described = compiled.describes(text);
    const ms = performance.now() - start;
    console.log(`  ${pattern} on ${text.length} chars: ${ms.toFixed(1)} ms`);
    assert.equal(found, false, pattern);
    assert.equal(described, false, pattern);
    assert.ok(ms < 2000, `${pattern} took ${ms} ms`);
  }
  // And through the engine, as a path pattern.
  const start = performance.now();
  const granted = policyGrants([policy(".*", "(a+)+$", ["read"])], "spiffe://x/y", text, ["read"]);
  assert.equal(granted, false);
  assert.ok(performance.now() - start < 2000);
});

// Roles from fixed trust roots, so tests do not depend on the environment.
const roles = {
  has: (id: SpiffeId, role: Role) => roleMatcher(role, ["spike.ist"])(id),
};

Deno.test("authorizeRequest: superuser passes without loading policies", async () => {
  let loads = 0;
  const load = () => {
    loads++;
    return Promise.resolve([] as StoredPolicy[]);
  };
  const su = parseSpiffeId("spiffe://spike.ist/spike/pilot/role/superuser");
  const rule = { path: ACL, wanted: ["write"] as Permission[], lite: "deny" as const };
  assert.equal(await authorizeRequest(roles, su, load, rule), true);
  assert.equal(loads, 0);
  // Recover and restore are not superusers.
  const recover = parseSpiffeId("spiffe://spike.ist/spike/pilot/role/recover");
  assert.equal(await authorizeRequest(roles, recover, load, rule), false);
  assert.equal(loads, 1);
});

Deno.test("authorizeRequest: lite workloads follow the rule, never policies", async () => {
  let loads = 0;
  const everything = [policy(".*", ".*", ["super"])];
  const load = () => {
    loads++;
    return Promise.resolve(everything);
  };
  const lite = parseSpiffeId("spiffe://spike.ist/spike/workload/role/lite");
  const cipher = { path: "spike/system/cipher/exec", wanted: ["execute"] as Permission[] };
  assert.equal(await authorizeRequest(roles, lite, load, { ...cipher, lite: "allow" }), true);
  assert.equal(await authorizeRequest(roles, lite, load, { ...cipher, lite: "deny" }), false);
  assert.equal(loads, 0);
});

Deno.test("authorizeRequest: others need a policy; a load failure denies", async () => {
  const peer = parseSpiffeId("spiffe://spike.ist/apps/web");
  const rule = { path: "secrets/db", wanted: ["read"] as Permission[], lite: "deny" as const };
  const grant = () =>
    Promise.resolve([policy("^spiffe://spike\\.ist/apps/web$", "secrets", ["read"])]);
  assert.equal(await authorizeRequest(roles, peer, grant, rule), true);
  const none = () => Promise.resolve([] as StoredPolicy[]);
  assert.equal(await authorizeRequest(roles, peer, none, rule), false);
  const failing = () => Promise.reject(new Error("backend down"));
  assert.equal(await authorizeRequest(roles, peer, failing, rule), false);
  // A policy source that fails while being iterated denies too.
  const broken = () =>
    Promise.resolve({
      [Symbol.iterator](): Iterator<StoredPolicy> {
        return {
          next(): IteratorResult<StoredPolicy> {
            throw new Error("cannot decrypt");
          },
        };
      },
    });
  assert.equal(await authorizeRequest(roles, peer, broken, rule), false);
});

Deno.test("policyGrants: reserved paths need a description and a precise identity", () => {
  const audit = "spiffe://example.org/audit";
  // A legacy policy stored before the upsert guard: reaches the ACL by substring.
  const legacy = [policy("spiffe://example\\.org/audit", "acl", ["write"])];
  assert.ok(!policyGrants(legacy, audit, ACL, ["write"]));
  // The same patterns still work on an ordinary path.
  assert.ok(policyGrants(legacy, audit, "apps/acl", ["write"]));
  // Anchored path, loose identity: refused on the reserved path.
  const looseId = [policy("spiffe://example\\.org/audit", "^spike/system/acl$", ["write"])];
  assert.ok(!policyGrants(looseId, audit, ACL, ["write"]));
  // Deliberate delegation: granted, and a lookalike identity is not.
  const deliberate = [policy("^spiffe://example\\.org/audit$", "^spike/system/acl$", ["write"])];
  assert.ok(policyGrants(deliberate, audit, ACL, ["write"]));
  assert.ok(!policyGrants(deliberate, audit + "-attacker", ACL, ["write"]));
  // A deliberate wildcard keeps working everywhere.
  const wildcard = [policy(".*", ".*", ["super"])];
  for (const reserved of RESERVED_PATHS) {
    assert.ok(policyGrants(wildcard, "spiffe://example.org/anything", reserved, ["write"]));
  }
  // Describing one reserved path does not reach another.
  assert.ok(!policyGrants(deliberate, audit, "spike/system/secret", ["write"]));
});
