/**
 * Fault drill: hostile request bodies within the size limit, sent raw over
 * mTLS by an authorized superuser (so that they reach the parser): JSON nested
 * 100k deep, 200k keys, duplicate keys, invalid UTF-8, NUL in a path, numbers
 * that overflow, a Content-Length that lies either way, and a chunked body of
 * 100k one-byte chunks. Each must get a 4xx in bounded time, store nothing,
 * and leave the server serving. The worst time is printed.
 */

import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { createX509Source } from "../lib/spiffe/workloadapi/x509source.ts";
import { certChainPem, privateKeyPem } from "../lib/spiffe/x509svid.ts";
import { nexusAs } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

const REQUEST_TIMEOUT_MS = 3000;

interface Hostile {
  name: string;
  /** The raw request: head and body bytes. */
  request: () => Uint8Array;
  status: RegExp;
}

const encoder = new TextEncoder();

function post(body: Uint8Array | string, headers: Record<string, string> = {}): Uint8Array {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const head = Object.entries({
    host: "nexus",
    "content-type": "application/json",
    "content-length": String(bytes.length),
    connection: "close",
    ...headers,
  }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const start = encoder.encode(`POST /v1/store/secrets HTTP/1.1\r\n${head}\r\n`);
  const all = new Uint8Array(start.length + bytes.length);
  all.set(start);
  all.set(bytes, start.length);
  return all;
}

function chunked(pieces: string[]): Uint8Array {
  const head =
    "POST /v1/store/secrets HTTP/1.1\r\nhost: nexus\r\ncontent-type: application/json\r\n" +
    "transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
  return encoder.encode(
    head + pieces.map((p) => `${encoder.encode(p).length.toString(16)}\r\n${p}\r\n`).join("") +
      "0\r\n\r\n",
  );
}

const manyKeys = "{" + Array.from({ length: 200_000 }, (_, i) => `"${i.toString(36)}":"v"`)
  .join(",") +
  "}";

const CASES: Hostile[] = [
  {
    name: "JSON nested 100k deep",
    request: () =>
      post(`{"path":"hostile/deep","values":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    status: /^HTTP\/1\.1 400 /,
  },
  {
    name: "200k keys",
    request: () => post(`{"path":"hostile/keys","values":${manyKeys}}`),
    status: /^HTTP\/1\.1 400 /,
  },
  {
    name: "invalid UTF-8",
    request: () =>
      post(
        new Uint8Array([
          ...encoder.encode('{"path":"hostile/utf8","values":{"k":"'),
          0xff,
          0xfe,
          ...encoder.encode('"}}'),
        ]),
      ),
    status: /^HTTP\/1\.1 400 /,
  },
  {
    name: "NUL in a path",
    request: () => post('{"path":"hostile/\\u0000nul","values":{"k":"v"}}'),
    status: /^HTTP\/1\.1 400 /,
  },
  {
    name: "a version number that overflows",
    request: () =>
      encoder.encode(
        new TextDecoder().decode(post('{"path":"hostile/num","version":1e400}')).replace(
          "/v1/store/secrets",
          "/v1/store/secrets?action=get",
        ),
      ),
    status: /^HTTP\/1\.1 400 /,
  },
  {
    name: "a Content-Length longer than the body",
    request: () => {
      const r = new TextDecoder().decode(post('{"path":"hostile/short","values":{"k":"v"}}'));
      return encoder.encode(r.replace(/content-length: \d+/, "content-length: 5000"));
    },
    status: /^HTTP\/1\.1 408 |^$/,
  },
  {
    name: "a Content-Length shorter than the body",
    request: () => {
      const r = new TextDecoder().decode(post('{"path":"hostile/long","values":{"k":"v"}}'));
      return encoder.encode(r.replace(/content-length: \d+/, "content-length: 10"));
    },
    // The rest of the body is a malformed second request: if the parser meets it before the
    // first answer is written, the connection is closed unanswered. Nothing is stored either way.
    status: /^HTTP\/1\.1 400 |^$/,
  },
  {
    name: "100k one-byte chunks",
    request: () => chunked([..." ".repeat(100_000).split(""), '{"values":{"k":"v"}}']),
    status: /^HTTP\/1\.1 400 /,
  },
];

Deno.test("hostile bodies: each gets a 4xx in bounded time, nothing is stored, Nexus keeps serving", async () => {
  const stack = await Stack.start({
    nexusEnv: {
      SPIKE_NEXUS_MAX_REQUEST_BODY_BYTES: String(4 << 20),
      SPIKE_HTTP_SERVER_READ_HEADER_TIMEOUT: "2s",
      SPIKE_HTTP_SERVER_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
    },
  });
  const pilot = await nexusAs(stack, "pilot");
  const source = await createX509Source({ address: stack.agent.address("pilot") });
  try {
    await pilot.nexus.putSecret("hostile/ok", { k: "v" });
    const svid = source.getX509Svid();
    const send = (bytes: Uint8Array) =>
      new Promise<string>((resolve) => {
        let text = "";
        const s = tls.connect({
          socket: net.connect({ host: "127.0.0.1", port: stack.nexusPort }),
          cert: certChainPem(svid),
          key: privateKeyPem(svid),
          rejectUnauthorized: false,
        }, () => s.write(bytes));
        s.on("data", (d: Uint8Array) => text += new TextDecoder().decode(d));
        s.on("error", () => {});
        s.on("close", () => resolve(text));
      });
    const times: string[] = [];
    let worst = 0;
    for (const c of CASES) {
      const started = performance.now();
      const answer = await send(c.request());
      const ms = performance.now() - started;
      worst = Math.max(worst, ms);
      times.push(`${c.name} ${Math.round(ms)} ms`);
      assert.match(answer, c.status, `${c.name}: ${answer.slice(0, 300)}`);
      assert.ok(ms < REQUEST_TIMEOUT_MS + 10_000, `${c.name} took ${ms} ms`);
      // Still serving, and nothing of it stored.
      assert.deepEqual(await pilot.nexus.getSecret("hostile/ok"), { k: "v" });
    }
    assert.deepEqual(await pilot.nexus.listSecrets(), ["hostile/ok"]);
    // Duplicate keys: one rule, the last one wins (as Go's encoding/json), never both.
    const dup = await send(post('{"path":"hostile/dup","values":{"k":"first","k":"last"}}'));
    assert.match(dup, /^HTTP\/1\.1 200 /);
    assert.deepEqual(await pilot.nexus.getSecret("hostile/dup"), { k: "last" });
    console.log(`drill bodies: worst ${Math.round(worst)} ms; ${times.join(", ")}`);
  } finally {
    source.close();
    pilot.close();
    await stack.stop();
  }
});
