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

Deno.test("operations under way each get their own deadline; a late answer changes nothing", async () => {
  const inner = await openMemoryStore();
  const release: (() => void)[] = [];
  let hang = true;
  const slow: Store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "get" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) =>
        hang
          ? new Promise((resolve) => release.push(() => resolve(null)))
          : value.apply(target, args);
    },
  });
  const told: string[] = [];
  const store = withDeadline(slow, 150, (e) => told.push(e.operation));
  try {
    const t0 = performance.now();
    const first = store.get(["a"]).then(() => "answered", () => performance.now() - t0);
    await new Promise((r) => setTimeout(r, 80));
    const second = store.get(["b"]).then(() => "answered", () => performance.now() - t0);
    hang = false;
    assert.equal(await store.get(["c"]), null); // a quick one among hung ones passes
    const firstAt = await first;
    const secondAt = await second;
    assert.ok(typeof firstAt === "number" && firstAt >= 145 && firstAt < 1000, `${firstAt}`);
    assert.ok(typeof secondAt === "number" && secondAt >= 225, `${secondAt}`); // 80 + 150
    for (const late of release) late(); // the hung reads answer at last: nobody hears of it
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(told, ["get", "get"]);
  } finally {
    await store.close();
  }
});
