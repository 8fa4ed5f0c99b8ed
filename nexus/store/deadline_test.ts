import assert from "node:assert/strict";
import { ERROR_STATUS } from "../../lib/api/errors.ts";
import { openMemoryStore } from "./kv.ts";
import { StoreTimeoutError, withDeadline } from "./deadline.ts";
import type { Store } from "./store.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("a store operation past its deadline is a 503, told once; quick ones pass", async () => {
  const inner = await openMemoryStore();
  let hang = false;
  const pending: (() => void)[] = [];
  const slow: Store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "get" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) =>
        hang
          ? new Promise((resolve) => pending.push(() => resolve(null)))
          : value.apply(target, args);
    },
  });
  const told: StoreTimeoutError[] = [];
  const store = withDeadline(slow, 100, (e) => told.push(e));
  try {
    await store.atomic().set(["a"], enc("1")).commit();
    assert.deepEqual((await store.get(["a"]))?.value, enc("1"));
    hang = true;
    const started = performance.now();
    await assert.rejects(store.get(["a"]), (e: unknown) => {
      assert.ok(e instanceof StoreTimeoutError);
      assert.equal(e.status, ERROR_STATUS.state_not_ready);
      assert.equal(e.operation, "get");
      return true;
    });
    assert.ok(performance.now() - started < 1000);
    assert.equal(told.length, 1);
    hang = false;
    for (const finish of pending) finish();
    assert.deepEqual((await store.get(["a"]))?.value, enc("1"));
    assert.deepEqual((await store.list(["a"])).length, 0);
  } finally {
    await store.close();
  }
});
