/**
 * The baseline: a bare `node:https` mTLS server in Deno that answers every
 * request with a fixed 1 KiB JSON body. Same TLS stack, same SVIDs, same load
 * generator as Nexus: the ratio of a workload's throughput to this one's is
 * what we track, since absolute numbers depend on the machine.
 *
 *   deno run -A bench/baseline_server.ts SOCKET PORT
 *
 * @module
 */

import https from "node:https";
import { certChainPem, privateKeyPem } from "../lib/spiffe/x509svid.ts";
import { createX509Source } from "../lib/spiffe/workloadapi/x509source.ts";

const [socket, port] = Deno.args;
const source = await createX509Source({ address: `unix://${socket}`, timeoutMs: 10_000 });
const svid = source.getX509Svid();
const body = JSON.stringify({ data: { v: "x".repeat(1024 - 16) } });
const server = https.createServer({
  key: privateKeyPem(svid),
  cert: certChainPem(svid),
  ca: source.getBundles().allAuthoritiesPem(),
  requestCert: true,
  rejectUnauthorized: true,
}, (req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(port), "127.0.0.1", () => console.error("baseline ready"));
