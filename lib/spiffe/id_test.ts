import assert from "node:assert/strict";
import {
  MAX_ID_LENGTH,
  parseSpiffeId,
  parseTrustDomain,
  SpiffeIdError,
  spiffeIdFromPath,
  spiffeIdFromSegments,
  validatePath,
} from "./id.ts";

const valid: [string, string, string][] = [
  // [input, trust domain, path]
  ["spiffe://example.org", "example.org", ""],
  ["spiffe://example.org/workload", "example.org", "/workload"],
  ["spiffe://spike.ist/spike/pilot/role/superuser", "spike.ist", "/spike/pilot/role/superuser"],
  ["spiffe://a_b-c.9/A.b-C_9/x", "a_b-c.9", "/A.b-C_9/x"],
  ["spiffe://1.2.3.4/ip/trust/domain", "1.2.3.4", "/ip/trust/domain"],
  ["spiffe://td/..a/.b./...", "td", "/..a/.b./..."],
];

Deno.test("parseSpiffeId accepts valid IDs", () => {
  for (const [input, td, path] of valid) {
    const id = parseSpiffeId(input);
    assert.equal(id.trustDomain.name, td, input);
    assert.equal(id.path, path, input);
    assert.equal(id.toString(), input);
  }
});

const invalid: [string, RegExp][] = [
  ["", /it is empty/],
  ["example.org/workload", /scheme must be "spiffe:\/\/"/],
  ["https://example.org/workload", /scheme must be "spiffe:\/\/"/],
  ["spiffe:example.org", /scheme must be "spiffe:\/\/"/],
  ["SPIFFE://example.org/workload", /scheme must be lowercase/],
  ["spiffe://", /trust domain is missing/],
  ["spiffe:///path", /trust domain is missing/],
  ["spiffe://Example.org/workload", /trust domain must be lowercase \(found "E"\)/],
  ["spiffe://exa mple.org", /only a-z, 0-9, "\.", "-" and "_" \(found " "\)/],
  ["spiffe://[::1]/workload", /only a-z, 0-9.*found "\["/],
  ["spiffe://example.org:8080/workload", /a port is not allowed/],
  ["spiffe://user@example.org/workload", /user info is not allowed/],
  ["spiffe://user:pw@example.org/workload", /user info is not allowed/],
  ["spiffe://example.org?x=1", /a query is not allowed/],
  ["spiffe://example.org/workload?x=1", /a query is not allowed/],
  ["spiffe://example.org#frag", /a fragment is not allowed/],
  ["spiffe://example.org/workload#frag", /a fragment is not allowed/],
  ["spiffe://ex%41mple.org/workload", /percent-encoding is not allowed/],
  ["spiffe://example.org/work%20load", /percent-encoding is not allowed/],
  ["spiffe://example.org/", /path must not end with "\/"/],
  ["spiffe://example.org/workload/", /path must not end with "\/"/],
  ["spiffe://example.org//workload", /empty segments/],
  ["spiffe://example.org/./workload", /must not contain "\." segments/],
  ["spiffe://example.org/workload/..", /must not contain "\.\." segments/],
  ["spiffe://example.org/work load", /path segments may contain only.*found " "/],
  ["spiffe://example.org/wörk", /path segments may contain only.*found "ö"/],
  ["spiffe://example.org/a\tb", /control character U\+0009/],
  [`spiffe://example.org/${"a".repeat(MAX_ID_LENGTH)}`, /at most 2048 are allowed/],
  [`spiffe://${"a".repeat(256)}/x`, /trust domain is 256 characters long; at most 255/],
];

Deno.test("parseSpiffeId rejects invalid IDs, each with its own reason", () => {
  for (const [input, reason] of invalid) {
    assert.throws(() => parseSpiffeId(input), (e: unknown) => {
      assert.ok(e instanceof SpiffeIdError, `${input}: ${e}`);
      assert.match(e.message, reason, `${JSON.stringify(input)}: ${e.message}`);
      return true;
    });
  }
});

Deno.test("the length limit counts bytes and allows exactly 2048", () => {
  const prefix = "spiffe://example.org/";
  const ok = prefix + "a".repeat(MAX_ID_LENGTH - prefix.length);
  assert.equal(parseSpiffeId(ok).toString().length, 2048);
  // Two-byte characters are refused anyway, but the length must be judged first in bytes.
  assert.throws(() => parseSpiffeId(ok + "a"), /2049 bytes/);
});

Deno.test("parseTrustDomain takes a name, a trust domain ID or a member ID", () => {
  assert.equal(parseTrustDomain("example.org").name, "example.org");
  assert.equal(parseTrustDomain("spiffe://example.org").name, "example.org");
  assert.equal(parseTrustDomain("spiffe://example.org/some/workload").name, "example.org");
  assert.throws(() => parseTrustDomain(""), /invalid trust domain: trust domain is missing/);
  assert.throws(() => parseTrustDomain("Example.org"), /must be lowercase/);
  assert.throws(() => parseTrustDomain("spiffe://example.org/bad/"), /must not end with/);
});

Deno.test("IDs compare, belong to trust domains and name their trust domain", () => {
  const id = parseSpiffeId("spiffe://spike.ist/spike/nexus");
  const td = parseTrustDomain("spike.ist");
  assert.ok(id.memberOf(td));
  assert.ok(!id.memberOf(parseTrustDomain("other.org")));
  assert.ok(id.equals(parseSpiffeId("spiffe://spike.ist/spike/nexus")));
  assert.ok(!id.equals(parseSpiffeId("spiffe://spike.ist/spike/nexus/0")));
  assert.equal(td.idString(), "spiffe://spike.ist");
  assert.ok(td.id().isTrustDomainId());
  assert.ok(!id.isTrustDomainId());
  assert.equal(JSON.stringify({ id }), '{"id":"spiffe://spike.ist/spike/nexus"}');
});

Deno.test("IDs built from paths and segments are validated", () => {
  const td = parseTrustDomain("spike.ist");
  assert.equal(spiffeIdFromPath(td, "/spike/keeper").toString(), "spiffe://spike.ist/spike/keeper");
  assert.equal(
    spiffeIdFromSegments(td, "spike", "pilot", "role", "superuser").toString(),
    "spiffe://spike.ist/spike/pilot/role/superuser",
  );
  assert.throws(() => spiffeIdFromPath(td, "spike/keeper"), /must start with "\/"/);
  assert.throws(() => spiffeIdFromSegments(td, "spike", ".."), /"\.\." segments/);
  assert.throws(() => spiffeIdFromSegments(td, "a/b", ""), /empty segments|end with/);
  validatePath("");
  assert.throws(() => validatePath("/a/"), /must not end with "\/"/);
});
