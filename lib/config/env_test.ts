import assert from "node:assert/strict";
import { envBool, envDuration, envInt, envList, envString, parseGoDuration } from "./env.ts";

Deno.test("parseGoDuration reads Go durations", () => {
  assert.equal(parseGoDuration("0"), 0);
  assert.equal(parseGoDuration("500ms"), 500);
  assert.equal(parseGoDuration("30s"), 30_000);
  assert.equal(parseGoDuration("5m"), 300_000);
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("1.5s"), 1500);
  assert.equal(parseGoDuration("1500us"), 1.5);
  for (const bad of ["", "30", "s", "-5s", "5 s", "5sec", "1d", "5s5"]) {
    assert.throws(() => parseGoDuration(bad), /is not a duration/, bad);
  }
});

function withEnv(vars: Record<string, string>, fn: () => void): void {
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    fn();
  } finally {
    for (const k of Object.keys(vars)) Deno.env.delete(k);
  }
}

Deno.test("env readers use defaults when unset and name the variable when invalid", () => {
  assert.equal(envDuration("SPIKE_TEST_UNSET_D", 42), 42);
  assert.equal(envInt("SPIKE_TEST_UNSET_I", 7), 7);
  assert.equal(envBool("SPIKE_TEST_UNSET_B", true), true);
  assert.deepEqual(envList("SPIKE_TEST_UNSET_L", ["a"]), ["a"]);
  assert.equal(envString("SPIKE_TEST_UNSET_S", "x"), "x");
  withEnv({
    SPIKE_TEST_D: "2m",
    SPIKE_TEST_I: "12",
    SPIKE_TEST_B: "TRUE",
    SPIKE_TEST_L: " a.org , b.org",
  }, () => {
    assert.equal(envDuration("SPIKE_TEST_D", 1), 120_000);
    assert.equal(envInt("SPIKE_TEST_I", 1), 12);
    assert.equal(envBool("SPIKE_TEST_B", false), true);
    assert.deepEqual(envList("SPIKE_TEST_L", []), ["a.org", "b.org"]);
  });
  withEnv({
    SPIKE_TEST_D: "soon",
    SPIKE_TEST_I: "1.5",
    SPIKE_TEST_B: "yes",
    SPIKE_TEST_L: "a,,b",
  }, () => {
    assert.throws(() => envDuration("SPIKE_TEST_D", 1), /SPIKE_TEST_D="soon" is invalid/);
    assert.throws(() => envInt("SPIKE_TEST_I", 1), /SPIKE_TEST_I="1.5" is invalid: .*whole/);
    assert.throws(() => envBool("SPIKE_TEST_B", false), /SPIKE_TEST_B="yes" is invalid/);
    assert.throws(() => envList("SPIKE_TEST_L", []), /SPIKE_TEST_L="a,,b" .*empty entry/);
  });
  withEnv({ SPIKE_TEST_I: "0" }, () => {
    assert.throws(() => envInt("SPIKE_TEST_I", 1, { min: 1, max: 5 }), /from 1 to 5/);
  });
});
