import assert from "node:assert/strict";
import { hasRole, roleIds, roleMatcher, RoleSet, trustRootsFor } from "./roles.ts";
import { parseSpiffeId } from "../spiffe/id.ts";

const id = (s: string) => parseSpiffeId(s);

Deno.test("roles default to spike.ist and follow the role rule", () => {
  assert.deepEqual(trustRootsFor("nexus"), ["spike.ist"]);
  assert.ok(hasRole(id("spiffe://spike.ist/spike/nexus"), "nexus"));
  assert.ok(hasRole(id("spiffe://spike.ist/spike/keeper/keeper-0"), "keeper"));
  assert.ok(!hasRole(id("spiffe://spike.ist/spike/nexus-evil"), "nexus"));
  assert.ok(!hasRole(id("spiffe://other.org/spike/nexus"), "nexus"));
});

Deno.test("the three pilot roles are disjoint", () => {
  const su = id("spiffe://spike.ist/spike/pilot/role/superuser");
  assert.ok(hasRole(su, "pilot-superuser"));
  assert.ok(!hasRole(su, "pilot-recover"));
  assert.ok(!hasRole(su, "pilot-restore"));
  assert.ok(hasRole(id("spiffe://spike.ist/spike/pilot/role/recover"), "pilot-recover"));
  assert.ok(!hasRole(id("spiffe://spike.ist/spike/pilot/role/recover"), "pilot-restore"));
});

Deno.test("trust roots come from the role's variable, comma-separated", () => {
  Deno.env.set("SPIKE_TRUST_ROOT_KEEPER", "a.org, b.org");
  try {
    assert.deepEqual(roleIds("keeper").map(String), [
      "spiffe://a.org/spike/keeper",
      "spiffe://b.org/spike/keeper",
    ]);
    assert.ok(hasRole(id("spiffe://b.org/spike/keeper/1"), "keeper"));
    assert.ok(!hasRole(id("spiffe://spike.ist/spike/keeper"), "keeper"));
    // Other roles keep their own default.
    assert.ok(hasRole(id("spiffe://spike.ist/spike/nexus"), "nexus"));
    Deno.env.set("SPIKE_TRUST_ROOT_KEEPER", "a.org,Bad");
    assert.throws(() => trustRootsFor("keeper"), /SPIKE_TRUST_ROOT_KEEPER lists "Bad"/);
  } finally {
    Deno.env.delete("SPIKE_TRUST_ROOT_KEEPER");
  }
  assert.ok(roleMatcher("lite-workload", ["x.org"])(id("spiffe://x.org/spike/workload/role/lite")));
});

Deno.test("a RoleSet reads the environment once and answers from it", () => {
  Deno.env.set("SPIKE_TRUST_ROOT_NEXUS", "n.org");
  let roles;
  try {
    roles = RoleSet.fromEnv();
  } finally {
    Deno.env.delete("SPIKE_TRUST_ROOT_NEXUS");
  }
  assert.ok(roles.has(id("spiffe://n.org/spike/nexus"), "nexus"));
  assert.ok(!roles.has(id("spiffe://spike.ist/spike/nexus"), "nexus"));
  assert.ok(roles.hasAny(id("spiffe://spike.ist/spike/bootstrap"), "nexus", "bootstrap"));
  Deno.env.set("SPIKE_TRUST_ROOT_PILOT", "x..y,");
  try {
    assert.throws(() => RoleSet.fromEnv(), /SPIKE_TRUST_ROOT_PILOT/);
  } finally {
    Deno.env.delete("SPIKE_TRUST_ROOT_PILOT");
  }
});
