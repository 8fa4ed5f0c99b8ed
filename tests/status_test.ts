/**
 * `POST /v1/status` and `spike status`, end to end: dev agent, three Keepers,
 * Nexus (kv) and Bootstrap as separate processes, then Pilot and curl. The
 * route answers any member of the trust domain without a policy, and answers
 * while Nexus has no root key; a dead Keeper costs a bounded wait.
 */

import assert from "node:assert/strict";
import type { StatusResponse } from "../lib/api/status.ts";
import { VERSION } from "../lib/program/version.ts";
import { DEFAULT_PROBE_CACHE_MS } from "../nexus/state/keeper_probe.ts";
import { curlAs } from "./support/curl.ts";
import { Stack } from "./support/stack.ts";

Deno.test("spike status and POST /v1/status", async (t) => {
  const stack = await Stack.start({ keepers: 3, threshold: 2, updateInterval: "1s" });
  try {
    await t.step("ready: exit 0, every Keeper holds its share", async () => {
      const r = await stack.spike("pilot", ["status", "-f", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const status: StatusResponse = JSON.parse(r.stdout);
      assert.deepEqual(status, {
        ready: true,
        keyState: "ready",
        keyGeneration: 1,
        backend: "kv",
        keepers: stack.keeperUrls.map((url, i) => ({
          index: i + 1,
          url,
          reachable: true,
          holdsShare: true,
        })),
        threshold: 2,
        version: VERSION,
      });
      const human = await stack.spike("pilot", ["status"]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^Nexus: +ready/m);
      assert.match(human.stdout, /^Keepers: +3 of 3 hold their share \(2 needed/m);
      const yaml = await stack.spike("pilot", ["status", "-f", "yaml"]);
      assert.match(yaml.stdout, /^keyGeneration: 1$/m);
      const help = await stack.spike("pilot", ["status", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Usage: spike status /);
      assert.match(help.stdout, /0 Nexus is ready, 6 it is not ready/);
      const bad = await stack.spike("pilot", ["status", "extra"]);
      assert.equal(bad.code, 2);
    });

    await t.step("a workload with no role and no policy may ask (curl, its own SVID)", async () => {
      const curl = await curlAs(stack, "workload-a", "/v1/status");
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.status, "200");
      const status = JSON.parse(curl.body);
      assert.equal(status.ready, true);
      assert.equal(status.keepers.length, 3);
      // The same workload may not read secrets: status is not a way in.
      const secrets = await curlAs(stack, "workload-a", "/v1/store/secrets?action=list");
      assert.equal(secrets.status, "401");
      const noCert = await curlAs(stack, null, "/v1/status");
      assert.notEqual(noCert.code, 0, "a caller without a certificate was answered");
    });

    await t.step("a dead Keeper is reported within the probe's deadline", async () => {
      await stack.stopKeeper(2);
      // Answers are reused for the cache period: wait it out.
      await new Promise((r) => setTimeout(r, DEFAULT_PROBE_CACHE_MS + 100));
      const started = performance.now();
      const r = await stack.spike("workload-a", ["status", "-f", "json"]);
      const tookMs = performance.now() - started;
      assert.equal(r.code, 0, r.stderr); // two of three still give the key: Nexus is ready
      const status: StatusResponse = JSON.parse(r.stdout);
      assert.deepEqual(status.keepers[2], {
        index: 3,
        url: stack.keeperUrls[2],
        reachable: false,
        holdsShare: false,
        problem: "unreachable (refused)",
      });
      console.log(`spike status with one Keeper down: ${tookMs.toFixed(0)} ms`);
    });

    await t.step("before the root key is back: answered, not ready, exit 6", async () => {
      await stack.stopNexus("SIGKILL");
      for (const i of [0, 1]) await stack.stopKeeper(i);
      await stack.startKeeper(0); // an empty Keeper: holds no share
      // Keeper 3's port accepts connections and never answers: the probe's deadline must hold.
      const hung = Deno.listen({ hostname: "127.0.0.1", port: stack.keeperPorts[2] });
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        for await (const conn of hung) held.push(conn);
      })();
      await stack.startNexus();
      const started = performance.now();
      const r = await stack.spike("pilot", ["status", "-f", "json"]);
      const tookMs = performance.now() - started;
      hung.close();
      for (const conn of held) conn.close();
      await accepting.catch(() => {});
      console.log(`spike status with one Keeper hung: ${tookMs.toFixed(0)} ms`);
      assert.ok(tookMs < 15_000, `status took ${tookMs} ms with a hung Keeper`);
      assert.equal(r.code, 6, r.stderr);
      const status: StatusResponse = JSON.parse(r.stdout);
      assert.equal(status.ready, false);
      assert.equal(status.keyState, "waiting");
      assert.equal(status.keyGeneration, 0);
      assert.deepEqual(
        status.keepers.map((k) => [k.reachable, k.holdsShare, k.problem]),
        [
          [true, false, "holds no share"],
          [false, false, "unreachable (refused)"],
          [false, false, "unreachable (timeout)"],
        ],
      );
      const human = await stack.spike("pilot", ["status"]);
      assert.equal(human.code, 6);
      assert.match(human.stdout, /^Nexus: +NOT READY/m);
      assert.match(human.stdout, /^ {2}1 {2}\S+ {2}holds no share$/m);
    });
  } finally {
    await stack.stop();
  }
});
