/**
 * Prometheus metrics end to end: Nexus started through the launcher with
 * `SPIKE_NEXUS_METRICS_PORT` (which must grant the listener), scraped with
 * curl and parsed by the Python Prometheus client's own parser
 * (`tests/support/promparse.py`; Debian's python3-prometheus-client), not by
 * our code.
 */

import assert from "node:assert/strict";
import { DEFAULT_PROBE_CACHE_MS } from "../nexus/state/keeper_probe.ts";
import { run } from "./support/programs.ts";
import { freePort, Stack } from "./support/stack.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const PARSER = new URL("./support/promparse.py", import.meta.url).pathname;

let pythonFound: string | undefined;

/** A python3 that has the Prometheus client: the one on PATH, else Debian's (a pyenv may shadow it). */
async function python(): Promise<string> {
  if (pythonFound) return pythonFound;
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const probe = await new Deno.Command(candidate, {
      args: ["-c", "import prometheus_client"],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    if (probe?.code === 0) return pythonFound = candidate;
  }
  return "python3"; // fails below with the message saying what to install
}

async function scrape(port: number): Promise<{ families: Map<string, Family>; headers: string }> {
  const curl = await run("curl", [
    "--silent",
    "--show-error",
    "--fail",
    "--dump-header",
    "/dev/stderr",
    `http://127.0.0.1:${port}/metrics`,
  ]);
  assert.equal(curl.code, 0, curl.stderr);
  const parsed = new Deno.Command(await python(), {
    args: [PARSER],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = parsed.stdin.getWriter();
  await writer.write(new TextEncoder().encode(curl.stdout));
  await writer.close();
  const out = await parsed.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(
    out.code,
    0,
    /No module named/.test(stderr)
      ? "python3-prometheus-client is needed (apt-get install python3-prometheus-client)"
      : `the Prometheus parser refused the exposition:\n${stderr}\n${curl.stdout}`,
  );
  const families: Family[] = JSON.parse(new TextDecoder().decode(out.stdout));
  return { families: new Map(families.map((f) => [f.name, f])), headers: curl.stderr };
}

function value(
  families: Map<string, Family>,
  family: string,
  sample: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = families.get(family);
  const s = f?.samples.find((s) =>
    s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return s?.value;
}

Deno.test("Nexus's metrics, scraped and parsed by Prometheus's own client", async (t) => {
  const port = freePort();
  const stack = await Stack.start({ nexusEnv: { SPIKE_NEXUS_METRICS_PORT: String(port) } });
  try {
    await t.step("a bare port binds loopback, and the launcher granted it", () => {
      assert.match(
        stack.nexus!.stderr(),
        new RegExp(`"msg":"metrics listening".*"listen":"127\\.0\\.0\\.1:${port}"`),
      );
    });

    await t.step("requests, latency, store, readiness, Keepers, key", async () => {
      assert.equal((await stack.spike("pilot", ["secret", "put", "app/db", "u=1"])).code, 0);
      assert.equal((await stack.spike("pilot", ["secret", "get", "app/db", "u"])).code, 0);
      assert.equal((await stack.spike("workload-a", ["status"])).code, 0);
      const { families, headers } = await scrape(port);
      assert.match(headers, /content-type: text\/plain; version=0\.0\.4/i);
      const types = Object.fromEntries([...families.values()].map((f) => [f.name, f.type]));
      assert.deepEqual(
        {
          requests: types["spike_nexus_requests"],
          latency: types["spike_nexus_request_duration_seconds"],
          store: types["spike_nexus_store_operation_duration_seconds"],
          ready: types["spike_nexus_ready"],
          reachable: types["spike_nexus_keeper_reachable"],
          held: types["spike_nexus_root_key_held_seconds"],
          generation: types["spike_nexus_root_key_generation"],
        },
        {
          requests: "counter",
          latency: "histogram",
          store: "histogram",
          ready: "gauge",
          reachable: "gauge",
          held: "gauge",
          generation: "gauge",
        },
      );
      const requests = "spike_nexus_requests";
      assert.ok(
        value(families, requests, `${requests}_total`, { route: "secret.put", status: "200" })! >=
          1,
      );
      assert.ok(
        value(families, requests, `${requests}_total`, { route: "status.get", status: "200" })! >=
          1,
      );
      const latency = "spike_nexus_request_duration_seconds";
      const getCount = value(families, latency, `${latency}_count`, { route: "secret.get" })!;
      assert.ok(getCount >= 1);
      assert.equal(
        value(families, latency, `${latency}_bucket`, { route: "secret.get", le: "+Inf" }),
        getCount,
      );
      const store = "spike_nexus_store_operation_duration_seconds";
      for (const operation of ["get", "commit"]) {
        assert.ok(value(families, store, `${store}_count`, { operation })! >= 1, operation);
      }
      assert.equal(value(families, "spike_nexus_ready", "spike_nexus_ready"), 1);
      assert.equal(
        value(families, "spike_nexus_root_key_generation", "spike_nexus_root_key_generation"),
        1,
      );
      const held = value(
        families,
        "spike_nexus_root_key_held_seconds",
        "spike_nexus_root_key_held_seconds",
      );
      assert.ok(held !== undefined && held >= 0 && held < 600, `held ${held}`);
      for (const [i, url] of stack.keeperUrls.entries()) {
        const labels = { keeper: url, index: String(i + 1) };
        assert.equal(
          value(families, "spike_nexus_keeper_reachable", "spike_nexus_keeper_reachable", labels),
          1,
        );
        assert.equal(
          value(
            families,
            "spike_nexus_keeper_holds_share",
            "spike_nexus_keeper_holds_share",
            labels,
          ),
          1,
        );
      }
    });

    await t.step(
      "a Keeper going away shows at the next scrape after the probe's cache",
      async () => {
        await stack.stopKeeper(1);
        await new Promise((r) => setTimeout(r, DEFAULT_PROBE_CACHE_MS + 100));
        const { families } = await scrape(port);
        const labels = { keeper: stack.keeperUrls[1], index: "2" };
        assert.equal(
          value(families, "spike_nexus_keeper_reachable", "spike_nexus_keeper_reachable", labels),
          0,
        );
      },
    );

    await t.step("only GET /metrics is served", async () => {
      const other = await run("curl", [
        "--silent",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        `http://127.0.0.1:${port}/`,
      ]);
      assert.equal(other.stdout, "404");
      const post = await run("curl", [
        "--silent",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        "--data",
        "x",
        `http://127.0.0.1:${port}/metrics`,
      ]);
      assert.equal(post.stdout, "405");
    });

    await t.step("before the root key: ready 0, no key age", async () => {
      await stack.stopNexus("SIGKILL");
      for (const i of [0, 2]) await stack.stopKeeper(i);
      await stack.startNexus();
      const { families } = await scrape(port);
      assert.equal(value(families, "spike_nexus_ready", "spike_nexus_ready"), 0);
      assert.equal(families.get("spike_nexus_root_key_held_seconds")?.samples.length ?? 0, 0);
    });

    await t.step("SIGTERM closes the metrics listener too, and Nexus exits 0", async () => {
      const keepAlive = await fetch(`http://127.0.0.1:${port}/metrics`);
      await keepAlive.text(); // the connection stays open in fetch's pool
      const stopped = await stack.nexus!.stop("SIGTERM");
      assert.equal(stopped.code, 0);
      const refused = await run("curl", ["--silent", `http://127.0.0.1:${port}/metrics`]);
      assert.notEqual(refused.code, 0, "the metrics port still answers after Nexus stopped");
    });
  } finally {
    await stack.stop();
  }
});

Deno.test("metrics are off unless SPIKE_NEXUS_METRICS_PORT is set", async () => {
  const stack = await Stack.start({ backend: "memory", bootstrap: false });
  try {
    await stack.startNexus();
    assert.doesNotMatch(stack.nexus!.stderr(), /metrics listening/);
  } finally {
    await stack.stop();
  }
});
