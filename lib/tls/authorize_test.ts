import assert from "node:assert/strict";
import { parseSpiffeId, parseTrustDomain, SpiffeIdError } from "../spiffe/id.ts";
import { matchIdOrBelow } from "../spiffe/match.ts";
import {
  adaptMatcher,
  AuthorizationError,
  authorizeAny,
  authorizeID,
  authorizeMemberOf,
  authorizeOneOf,
  type Authorizer,
} from "./authorize.ts";

const nexus = parseSpiffeId("spiffe://example.org/spike/nexus");
const keeper = parseSpiffeId("spiffe://example.org/spike/keeper");
const foreign = parseSpiffeId("spiffe://other.org/spike/nexus");

function allows(a: Authorizer, id = nexus): void {
  a(id, []);
}

function refuses(a: Authorizer, id: typeof nexus, detail: RegExp): void {
  assert.throws(() => a(id, []), (e) => {
    assert.ok(e instanceof AuthorizationError);
    assert.equal(e.id, id);
    assert.ok(e.message.startsWith(`unauthorized SPIFFE ID "${id}": `), e.message);
    assert.match(e.message, detail);
    return true;
  });
}

Deno.test("authorizeAny allows every verified ID", () => {
  allows(authorizeAny(), foreign);
});

Deno.test("authorizeID allows exactly one ID, given as string or SpiffeId", () => {
  allows(authorizeID("spiffe://example.org/spike/nexus"));
  allows(authorizeID(nexus));
  refuses(authorizeID(nexus), keeper, /expected "spiffe:\/\/example.org\/spike\/nexus"$/);
  refuses(authorizeID(nexus), foreign, /expected/);
  refuses(authorizeID(nexus), parseSpiffeId("spiffe://example.org/spike/nexus/x"), /expected/);
  assert.throws(() => authorizeID("https://example.org/x"), SpiffeIdError);
});

Deno.test("authorizeOneOf allows any of a list", () => {
  const a = authorizeOneOf(nexus, "spiffe://example.org/spike/keeper");
  allows(a, nexus);
  allows(a, keeper);
  refuses(a, foreign, /expected one of "spiffe:\/\/example.org\/spike\/nexus", "spiffe:/);
  refuses(authorizeOneOf(), nexus, /expected one of \(none\)/);
});

Deno.test("authorizeMemberOf allows a trust domain", () => {
  allows(authorizeMemberOf("example.org"), keeper);
  allows(authorizeMemberOf("spiffe://example.org"), keeper);
  allows(authorizeMemberOf(parseTrustDomain("other.org")), foreign);
  refuses(
    authorizeMemberOf("example.org"),
    foreign,
    /expected a member of trust domain "example.org"/,
  );
  assert.throws(() => authorizeMemberOf("Example.org"), SpiffeIdError);
});

Deno.test("adaptMatcher takes a predicate written in place and names it in refusals", () => {
  const isNexus = adaptMatcher(
    (id) => id.path === "/spike/nexus" || id.path.startsWith("/spike/nexus/"),
    "a SPIKE Nexus ID",
  );
  allows(isNexus, nexus);
  allows(isNexus, parseSpiffeId("spiffe://example.org/spike/nexus/replica-1"));
  refuses(
    isNexus,
    parseSpiffeId("spiffe://example.org/spike/nexus-evil"),
    /expected a SPIKE Nexus ID$/,
  );
  const broken = adaptMatcher(() => {
    throw new Error("boom");
  }, "a working rule");
  refuses(broken, nexus, /check for a working rule failed: boom/);
});

Deno.test("adaptMatcher turns a lib/spiffe matcher into an authorizer", () => {
  const a = adaptMatcher(matchIdOrBelow(nexus), "a SPIKE Nexus ID");
  allows(a, nexus);
  allows(a, parseSpiffeId("spiffe://example.org/spike/nexus/pod-0"));
  refuses(a, parseSpiffeId("spiffe://example.org/spike/nexus-evil"), /expected a SPIKE Nexus ID$/);
  refuses(a, keeper, /expected a SPIKE Nexus ID$/);
});
