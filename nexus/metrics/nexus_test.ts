import assert from "node:assert/strict";
import { openMemoryStore } from "../store/kv.ts";
import { instrumentStore, NexusMetrics } from "./nexus.ts";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("store operations are timed by a wrapper that changes nothing else", async () => {
  const metrics = new NexusMetrics({
    backend: "kv",
    keyStatus: () => "ready",
    keyGeneration: () => 1,
  });
  const inner = await openMemoryStore();
  const store = instrumentStore(inner, metrics);
  try {
    const ok = await store.atomic().check(["a"], null).set(["a"], new Uint8Array([1])).commit();
    assert.equal(ok.ok, true);
    assert.deepEqual((await store.get(["a"]))?.value, new Uint8Array([1]));
    assert.equal((await store.list([])).length, 1);
    const lost = await store.atomic().check(["a"], null).set(["a"], new Uint8Array([2])).commit();
    assert.equal(lost.ok, false, "the wrapper must not change a commit's outcome");
    const text = await metrics.expose();
    assert.equal(
      sample(text, 'spike_nexus_store_operation_duration_seconds_count{operation="commit"}'),
      2,
    );
    assert.equal(
      sample(text, 'spike_nexus_store_operation_duration_seconds_count{operation="get"}'),
      1,
    );
    assert.equal(
      sample(text, 'spike_nexus_store_operation_duration_seconds_count{operation="list"}'),
      1,
    );
    assert.equal(sample(text, "spike_nexus_ready"), 1);
    assert.equal(sample(text, "spike_nexus_root_key_generation"), 1);
  } finally {
    await store.close();
  }
});

Deno.test("requests are counted by route and status; unknown routes share one label", async () => {
  const metrics = new NexusMetrics({
    backend: "memory",
    keyStatus: () => "waiting",
    keyGeneration: () => 0,
  });
  const base = { trail: "t", caller: "c", method: "POST", target: "/x", action: "" };
  metrics.record({ ...base, route: "secret.get", status: 200, durationMs: 2 });
  metrics.record({ ...base, route: "secret.get", status: 401, durationMs: 1 });
  metrics.record({ ...base, route: null, status: 400, durationMs: 1 });
  metrics.record({ ...base, route: null, status: 400, durationMs: 1 });
  const text = await metrics.expose();
  assert.equal(sample(text, 'spike_nexus_requests_total{route="secret.get",status="200"}'), 1);
  assert.equal(sample(text, 'spike_nexus_requests_total{route="secret.get",status="401"}'), 1);
  assert.equal(sample(text, 'spike_nexus_requests_total{route="unknown",status="400"}'), 2);
  assert.equal(sample(text, 'spike_nexus_request_duration_seconds_sum{route="secret.get"}'), 0.003);
  assert.equal(sample(text, "spike_nexus_ready"), 0);
  assert.equal(sample(text, "spike_nexus_root_key_held_seconds"), undefined, "no key, no age");
});

Deno.test("a scrape learns the key first: the generation is the store's, not the last one seen", async () => {
  let generation = 1;
  const metrics = new NexusMetrics({
    backend: "postgres",
    keyStatus: () => "ready",
    keyGeneration: () => generation,
    // As RootKeyState.learnLatest does when another replica rotated the key.
    learnKey: () => {
      generation = 3;
      return Promise.resolve();
    },
  });
  assert.equal(sample(await metrics.expose(), "spike_nexus_root_key_generation"), 3);
});
