/**
 * The metrics listener: plain HTTP, separate from the mTLS API, answering
 * `GET /metrics` (and `HEAD`) with the text exposition and 404 to anything
 * else. It holds no secret and takes no input; it is off unless
 * `SPIKE_NEXUS_METRICS_PORT` is set, and binds loopback unless that setting
 * names another host.
 *
 * @module
 */

import { createServer, type Server } from "node:http";
import { Buffer } from "node:buffer";
import { EXPOSITION_CONTENT_TYPE } from "./registry.ts";

/** A running metrics listener. */
export interface MetricsServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `hostname:port` and serves what `expose` returns at each scrape. */
export async function serveMetrics(
  hostname: string,
  port: number,
  expose: () => Promise<string>,
  onError: (e: unknown) => void = () => {},
): Promise<MetricsServer> {
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end();
      return;
    }
    try {
      const body = Buffer.from(await expose());
      res.writeHead(200, {
        "content-type": EXPOSITION_CONTENT_TYPE,
        "content-length": body.length,
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      onError(e);
      res.writeHead(500, { "content-type": "text/plain" }).end("metrics failed\n");
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
