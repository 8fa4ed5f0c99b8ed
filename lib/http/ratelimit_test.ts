import assert from "node:assert/strict";
import { RateLimiter } from "./ratelimit.ts";

Deno.test("a bucket serves its burst, then asks to wait, and refills with time", () => {
  const limiter = new RateLimiter(2, 3);
  const t = 1000;
  assert.deepEqual([0, 0, 0].map(() => limiter.take("a", t)), [0, 0, 0]);
  assert.equal(limiter.take("a", t), 1, "empty: wait a second");
  assert.equal(limiter.take("b", t), 0, "another key has its own bucket");
  assert.equal(limiter.take("a", t + 500), 0, "half a second at 2/s gives a token");
  assert.equal(limiter.take("a", t + 500), 1);
  assert.equal(limiter.take("a", t + 10_000), 0);
});

Deno.test("a slow rate asks for the whole seconds it needs", () => {
  const limiter = new RateLimiter(0.1, 1);
  assert.equal(limiter.take("a", 0), 0);
  assert.equal(limiter.take("a", 0), 10);
});

Deno.test("keys are bounded: the least recently used is forgotten", () => {
  const limiter = new RateLimiter(1, 1, 3);
  for (const k of ["a", "b", "c"]) limiter.take(k, 0);
  limiter.take("a", 0); // a is used again: b is now the oldest
  limiter.take("d", 0);
  assert.equal(limiter.size, 3);
  assert.equal(limiter.take("b", 0), 0, "b was forgotten, so it comes back full");
  assert.equal(limiter.take("a", 0), 1, "a was kept");
});

Deno.test("a rate limiter refuses a rate that is not positive", () => {
  assert.throws(() => new RateLimiter(0), RangeError);
  assert.throws(() => new RateLimiter(1, 0), RangeError);
});
