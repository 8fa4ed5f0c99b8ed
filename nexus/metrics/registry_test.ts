import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "./registry.ts";

Deno.test("the text format: HELP, TYPE, escaped labels, cumulative buckets, sum and count", async () => {
  const registry = new Registry();
  const counter = registry.register(
    new Counter("x_requests_total", "Requests.\nSecond \\ line.", ["route"]),
  );
  const gauge = registry.register(new Gauge("x_up", "Up."));
  const histogram = registry.register(new Histogram("x_seconds", "Time.", ["op"], [0.1, 1]));
  counter.inc(['a"b\\c\nd']);
  counter.inc(['a"b\\c\nd'], 2);
  gauge.set([], 1);
  histogram.observe(["get"], 0.05);
  histogram.observe(["get"], 0.5);
  histogram.observe(["get"], 5);
  let collected = 0;
  registry.onCollect(() => {
    collected++;
  });
  assert.equal(
    await registry.expose(),
    [
      "# HELP x_requests_total Requests.\\nSecond \\\\ line.",
      "# TYPE x_requests_total counter",
      'x_requests_total{route="a\\"b\\\\c\\nd"} 3',
      "# HELP x_up Up.",
      "# TYPE x_up gauge",
      "x_up 1",
      "# HELP x_seconds Time.",
      "# TYPE x_seconds histogram",
      'x_seconds_bucket{op="get",le="0.1"} 1',
      'x_seconds_bucket{op="get",le="1"} 2',
      'x_seconds_bucket{op="get",le="+Inf"} 3',
      'x_seconds_sum{op="get"} 5.55',
      'x_seconds_count{op="get"} 3',
      "",
    ].join("\n"),
  );
  assert.equal(collected, 1);
});

Deno.test("the registry refuses what the format does not allow", () => {
  assert.throws(() => new Counter("x", "no _total"));
  assert.throws(() => new Gauge("1x", "bad name"));
  assert.throws(() => new Gauge("x", "bad label", ["le"]));
  assert.throws(() => new Histogram("x", "unsorted", [], [1, 0.5]));
  assert.throws(() => new Counter("x_total", "").inc([], -1));
  assert.throws(() => new Gauge("x", "", ["a"]).set([], 1), /takes 1 label/);
  const r = new Registry();
  r.register(new Gauge("x", ""));
  assert.throws(() => r.register(new Gauge("x", "")), /twice/);
});
