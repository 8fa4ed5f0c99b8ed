/**
 * Raw HTTPS requests over an mTLS agent, for sending what no well-behaved
 * client would: other methods, broken JSON, odd content types, huge bodies.
 *
 * @module
 */

import https from "node:https";
import type { MtlsAgent } from "../../lib/tls/client.ts";

/** A response read to the end. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  text: string;
}

/** Sends one request; `body` is sent as given. */
export function rawRequest(
  agent: MtlsAgent,
  url: string,
  options: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  return new Promise((resolve, reject) => {
    const req = https.request({
      hostname: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      method: options.method ?? "POST",
      agent: agent.agent,
      headers: {
        ...(body ? { "content-length": String(body.length) } : {}),
        ...options.headers,
      },
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("end", () => {
        const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: all,
          text: new TextDecoder().decode(all),
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error("raw request timed out")));
    req.end(body);
  });
}
