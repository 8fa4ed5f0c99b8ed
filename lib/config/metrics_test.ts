import assert from "node:assert/strict";
import { ConfigError } from "./env.ts";
import { parseMetricsAddress } from "./metrics.ts";

Deno.test("metrics address: off when unset, loopback for a bare port, a host when named", () => {
  assert.equal(parseMetricsAddress(undefined), undefined);
  assert.equal(parseMetricsAddress(" "), undefined);
  assert.deepEqual(parseMetricsAddress("9090"), { hostname: "127.0.0.1", port: 9090 });
  assert.deepEqual(parseMetricsAddress("0.0.0.0:9090"), { hostname: "0.0.0.0", port: 9090 });
  assert.deepEqual(parseMetricsAddress("[::1]:9090"), { hostname: "::1", port: 9090 });
  assert.deepEqual(parseMetricsAddress("metrics.local:1"), { hostname: "metrics.local", port: 1 });
});

Deno.test("metrics address: ':PORT' and bad ports are refused, naming the variable", () => {
  for (const bad of [":9090", "0", "70000", "http://x:1", "a:b", "::1:9090", "9090x"]) {
    assert.throws(
      () => parseMetricsAddress(bad),
      (e: unknown) => e instanceof ConfigError && /^SPIKE_NEXUS_METRICS_PORT=/.test(e.message),
      bad,
    );
  }
});
