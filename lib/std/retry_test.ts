import assert from "node:assert/strict";
import { retry } from "./retry.ts";

Deno.test("retry stops at the first success", async () => {
  let calls = 0;
  const value = await retry(() => {
    calls++;
    if (calls < 3) return Promise.reject(new Error("not yet"));
    return Promise.resolve("done");
  }, { initialMs: 1, maxMs: 4 });
  assert.equal(value, "done");
  assert.equal(calls, 3);
});

Deno.test("retry gives up after maxAttempts or at the deadline, with the last error", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => Promise.reject(new Error(`fail ${++calls}`)), {
      initialMs: 1,
      maxMs: 2,
      maxAttempts: 4,
    }),
    /fail 4/,
  );
  const started = Date.now();
  await assert.rejects(
    retry(() => Promise.reject(new Error("never")), { initialMs: 20, maxMs: 40, deadlineMs: 150 }),
    /never/,
  );
  assert.ok(Date.now() - started < 1000);
});

Deno.test("retry does not retry what is not retryable", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => Promise.reject(new Error(`fatal ${++calls}`)), {
      initialMs: 1,
      maxMs: 1,
      retryable: () => false,
    }),
    /fatal 1/,
  );
});
