import assert from "node:assert/strict";
import { refusalKind, Throttle } from "./throttle.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a burst is told once at once and once as a count; a quiet spell starts over", async () => {
  const told: [string, number][] = [];
  const throttle = new Throttle<string>(60, (event, suppressed) => told.push([event, suppressed]));
  for (let i = 0; i < 1000; i++) throttle.note(`refused ${i}`);
  assert.deepEqual(told, [["refused 0", 0]]);
  await pause(100);
  assert.deepEqual(told, [["refused 0", 0], ["refused 999", 999]]);
  await pause(100); // a window with nothing counted ends the burst
  throttle.note("again");
  assert.deepEqual(told.at(-1), ["again", 0]);
  throttle.note("more");
  throttle.flush();
  assert.deepEqual(told.at(-1), ["more", 1]);
  assert.equal(told.length, 4);
});

Deno.test("kinds are counted apart: one flood does not swallow another kind's first line", () => {
  const told: [string, number][] = [];
  const throttle = new Throttle<string>(
    10_000,
    (event, suppressed) => told.push([event, suppressed]),
    refusalKind,
  );
  for (let i = 0; i < 50; i++) throttle.note(`too many connections from 10.0.0.${i} (5 open)`);
  throttle.note("client presented no certificate");
  throttle.note("client presented no certificate");
  assert.deepEqual(told, [
    ["too many connections from 10.0.0.0 (5 open)", 0],
    ["client presented no certificate", 0],
  ]);
  throttle.flush();
  assert.deepEqual(told.slice(2), [
    ["too many connections from 10.0.0.49 (5 open)", 49],
    ["client presented no certificate", 1],
  ]);
});
