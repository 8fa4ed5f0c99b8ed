import assert from "node:assert/strict";
import { median, percentile, summarize } from "./stats.ts";

Deno.test("percentiles use the nearest rank", () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 0.5), 50);
  assert.equal(percentile(sorted, 0.99), 99);
  assert.equal(percentile(sorted, 1), 100);
  assert.equal(percentile([], 0.5), 0);
});

Deno.test("summaries count requests per second and errors", () => {
  const s = summarize([3, 1, 2, 4], 1, 2);
  assert.deepEqual(s, { requests: 4, errors: 1, seconds: 2, rps: 2, p50ms: 2, p99ms: 4, maxms: 4 });
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
