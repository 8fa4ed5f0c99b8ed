import assert from "node:assert/strict";
import { parseSpiffeId } from "./id.ts";
import { matchAny, matchId, matchIdOrBelow, matchMemberOf, matchOneOf } from "./match.ts";

const id = (s: string) => parseSpiffeId(s);

Deno.test("matchId and matchOneOf compare whole IDs", () => {
  const nexus = matchId("spiffe://spike.ist/spike/nexus");
  assert.ok(nexus(id("spiffe://spike.ist/spike/nexus")));
  assert.ok(!nexus(id("spiffe://spike.ist/spike/nexus/0")));
  assert.ok(!nexus(id("spiffe://other.org/spike/nexus")));
  const either = matchOneOf("spiffe://a.org/x", id("spiffe://b.org/y"));
  assert.ok(either(id("spiffe://a.org/x")));
  assert.ok(either(id("spiffe://b.org/y")));
  assert.ok(!either(id("spiffe://a.org/y")));
  assert.ok(matchAny()(id("spiffe://anything.org/at/all")));
});

Deno.test("matchMemberOf compares trust domains", () => {
  const m = matchMemberOf("spike.ist");
  assert.ok(m(id("spiffe://spike.ist/anything")));
  assert.ok(!m(id("spiffe://spike.ist.evil/anything")));
  assert.throws(() => matchMemberOf("Bad.Domain"), /lowercase/);
});

Deno.test("matchIdOrBelow is SPIKE's role rule", () => {
  const nexus = matchIdOrBelow("spiffe://spike.ist/spike/nexus", "spiffe://b.org/spike/nexus");
  assert.ok(nexus(id("spiffe://spike.ist/spike/nexus")));
  assert.ok(nexus(id("spiffe://spike.ist/spike/nexus/pod-0")));
  assert.ok(nexus(id("spiffe://b.org/spike/nexus/a/b")));
  assert.ok(!nexus(id("spiffe://spike.ist/spike/nexus-evil")));
  assert.ok(!nexus(id("spiffe://spike.ist/spike")));
  assert.ok(!nexus(id("spiffe://c.org/spike/nexus")));
});
