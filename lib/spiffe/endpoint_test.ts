import assert from "node:assert/strict";
import { EndpointAddressError, grpcTarget, parseEndpointAddress } from "./endpoint.ts";

// go-spiffe's TargetFromAddress table, plus our stricter unix rule.
const rejected: [string, RegExp][] = [
  ["\t", /control character/],
  ["blah", /must have a "tcp" or "unix" scheme/],
  ["http://1.2.3.4:5", /must have a "tcp" or "unix" scheme/],
  ["tcp:opaque", /tcp socket URI must not be opaque/],
  ["tcp://", /tcp socket URI must include a host/],
  ["tcp://1.2.3.4:5?whatever", /must not include query values/],
  ["tcp://1.2.3.4:5#whatever", /must not include a fragment/],
  ["tcp://john:doe@1.2.3.4:5/path", /must not include user info/],
  ["tcp://1.2.3.4:5/path", /must not include a path/],
  ["tcp://foo", /host component must be an IP:port/],
  ["tcp://foo:5", /host component must be an IP:port/],
  ["tcp://1.2.3.4", /host component must include a port/],
  ["tcp://1.2.3.4:99999", /port must be a number/],
  ["tcp://1.2.3.4:x", /port must be a number/],
  ["unix:opaque", /unix socket URI must not be opaque/],
  ["unix://", /unix socket URI must include a path/],
  ["unix://foo?whatever", /must not include query values/],
  ["unix://foo#whatever", /must not include a fragment/],
  ["unix://john:doe@foo/path", /must not include user info/],
  ["unix://foo", /must not include a host/],
  ["unix://foo/bar.sock", /must not include a host/],
];

Deno.test("parseEndpointAddress rejects what the spec forbids", () => {
  for (const [input, reason] of rejected) {
    assert.throws(() => parseEndpointAddress(input), (e: unknown) => {
      assert.ok(e instanceof EndpointAddressError, `${JSON.stringify(input)}: ${e}`);
      assert.match(e.message, reason, `${JSON.stringify(input)}: ${e.message}`);
      return true;
    });
  }
});

Deno.test("parseEndpointAddress accepts unix paths and tcp IP:port", () => {
  const a = parseEndpointAddress("unix:///tmp/spire-agent/public/api.sock");
  assert.deepEqual(a, {
    scheme: "unix",
    path: "/tmp/spire-agent/public/api.sock",
    address: "unix:///tmp/spire-agent/public/api.sock",
  });
  assert.equal(grpcTarget(a), "unix:///tmp/spire-agent/public/api.sock");
  const b = parseEndpointAddress("unix:/run/api.sock");
  assert.equal(b.scheme === "unix" && b.path, "/run/api.sock");
  const c = parseEndpointAddress("tcp://1.2.3.4:5");
  assert.equal(c.scheme === "tcp" && `${c.host}:${c.port}`, "1.2.3.4:5");
  assert.equal(grpcTarget(c), "ipv4:1.2.3.4:5");
  const d = parseEndpointAddress("tcp://[::1]:5");
  assert.equal(grpcTarget(d), "ipv6:[::1]:5");
});
