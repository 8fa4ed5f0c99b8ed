/**
 * The load generator, run as its own process so that it never shares a CPU
 * queue or TLS state with the server it measures. It opens keep-alive mTLS
 * connections with the SVID of a Workload API socket, runs one workload with
 * `concurrency` clients for `seconds` (after a warm-up), and prints one JSON
 * line of statistics.
 *
 *   deno run -A bench/loadgen.ts '{"socket": ..., "url": ..., "workload": "get", ...}'
 *
 * @module
 */

import https from "node:https";
import { Buffer } from "node:buffer";
import { createX509Source } from "../lib/spiffe/workloadapi/x509source.ts";
import { authorizeAny } from "../lib/tls/authorize.ts";
import { createMtlsAgent, type MtlsAgent } from "../lib/tls/client.ts";
import { type CpuStats, summarize } from "./stats.ts";

/** What to run. */
export interface LoadSpec {
  socket: string;
  /** Nexus, or several replicas comma-separated: client `i` of `concurrency` uses the `i % n`th. */
  url: string;
  workload: "baseline" | "get" | "put" | "metadata" | "encrypt" | "decrypt" | "mixed" | "seed";
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  /** Paths are `${prefix}/${0..paths-1}`. */
  prefix: string;
  paths: number;
  /** Size of each secret value and cipher plaintext. */
  valueBytes: number;
  /** For `seed`: how many secrets to write (once each). */
  count?: number;
  /** The server's process id: its CPU time over the measured window is reported. */
  serverPid?: number;
}

/** CPU time (user + system, all threads) a process has used so far, in µs. */
function cpuMicros(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces) start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return ticks * (1_000_000 / CLOCK_TICKS);
}
/** Linux's USER_HZ, the unit of /proc/PID/stat times. */
const CLOCK_TICKS = 100;

const VALUE = (n: number) => "x".repeat(n);

function post(agent: MtlsAgent, url: URL, route: string, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      hostname: url.hostname,
      port: url.port,
      path: route,
      method: "POST",
      agent: agent.agent,
      headers: { "content-type": "application/json", "content-length": body.length },
    }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const rand = (n: number) => Math.floor(Math.random() * n);

async function main(spec: LoadSpec): Promise<void> {
  const source = await createX509Source({ address: `unix://${spec.socket}`, timeoutMs: 10_000 });
  const agent = createMtlsAgent({
    source,
    authorizer: authorizeAny(),
    maxSockets: spec.concurrency,
  });
  const urls = spec.url.split(",").map((u) => new URL(u));
  const value = VALUE(spec.valueBytes);
  let sealed: unknown;
  if (spec.workload === "decrypt") {
    const res = await agent.postJson(`${urls[0].origin}/v1/cipher/encrypt`, {
      plaintext: Buffer.from(value).toString("base64"),
    });
    sealed = JSON.parse(new TextDecoder().decode(res.body));
  }
  const plaintext = Buffer.from(value).toString("base64");
  const request = (): [string, Uint8Array] => {
    const path = `${spec.prefix}/${rand(spec.paths)}`;
    switch (spec.workload) {
      case "baseline":
        return ["/", json({})];
      case "get":
        return ["/v1/store/secrets?action=get", json({ path })];
      case "metadata":
        return ["/v1/store/secrets/metadata?action=get", json({ path })];
      case "put":
        return ["/v1/store/secrets", json({ path, values: { v: value } })];
      case "encrypt":
        return ["/v1/cipher/encrypt", json({ plaintext })];
      case "decrypt":
        return ["/v1/cipher/decrypt", json(sealed)];
      case "mixed":
        return Math.random() < 0.9
          ? ["/v1/store/secrets?action=get", json({ path })]
          : ["/v1/store/secrets", json({ path, values: { v: value } })];
      default:
        throw new Error(`no requests for ${spec.workload}`);
    }
  };

  if (spec.workload === "seed") {
    let next = 0;
    let errors = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: spec.concurrency }, async (_, client) => {
      const url = urls[client % urls.length];
      while (next < (spec.count ?? spec.paths)) {
        const i = next++;
        const status = await post(
          agent,
          url,
          "/v1/store/secrets",
          json({
            path: `${spec.prefix}/${i}`,
            values: { v: value },
          }),
        ).catch(() => 0);
        if (status !== 200) errors++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({ written: spec.count ?? spec.paths, errors, seconds }));
  } else {
    const latencies: number[] = [];
    let cpuAtEnd: { server: number; self: number } | undefined;
    let errors = 0;
    let measuring = false;
    const warmupEnd = performance.now() + spec.warmupSeconds * 1000;
    let end = Infinity;
    let cpuAtStart = { server: 0, self: 0 };
    const cpuNow = () => ({
      server: spec.serverPid ? cpuMicros(spec.serverPid) : 0,
      self: cpuMicros("self"),
    });
    await Promise.all(Array.from({ length: spec.concurrency }, async (_, client) => {
      const url = urls[client % urls.length];
      for (;;) {
        const now = performance.now();
        if (!measuring && now >= warmupEnd) {
          measuring = true;
          end = now + spec.seconds * 1000;
          cpuAtStart = cpuNow();
          setTimeout(() => cpuAtEnd ??= cpuNow(), spec.seconds * 1000);
        }
        if (now >= end) {
          cpuAtEnd ??= cpuNow(); // the first client past the end, unless the timer was first
          return;
        }
        const [route, body] = request();
        const t0 = performance.now();
        const status = await post(agent, url, route, body).catch(() => 0);
        const ms = performance.now() - t0;
        if (!measuring || t0 > end) continue;
        if (status === 200) latencies.push(ms);
        else errors++;
      }
    }));
    const stats = summarize(latencies, errors, spec.seconds);
    const served = latencies.length + errors;
    cpuAtEnd ??= cpuNow();
    const cpu: CpuStats = {
      serverCpuUsPerRequest: spec.serverPid
        ? Math.round((cpuAtEnd.server - cpuAtStart.server) / served)
        : null,
      loadgenCpuUsPerRequest: Math.round((cpuAtEnd.self - cpuAtStart.self) / served),
      loadgenCpuShare: Math.round(
        (cpuAtEnd.self - cpuAtStart.self) /
          (spec.seconds * 1_000_000 * navigator.hardwareConcurrency) * 1000,
      ) / 1000,
    };
    console.log(JSON.stringify({ ...stats, ...cpu }));
  }
  agent.close();
  // The Workload API stream is not closed politely: a GOAWAY from a closing client can abort the
  // agent inside Deno's HTTP/2 (nghttp2 assertion in find_stream_on_goaway_func, as in
  // denoland/deno#36788); seen in 3 of 6 runs of the postgres section. Exiting drops the socket.
}

if (import.meta.main) {
  await main(JSON.parse(Deno.args[0]) as LoadSpec);
  Deno.exit(0);
}
