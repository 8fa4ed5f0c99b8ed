/**
 * The baseline: a bare `node:https` mTLS server in Deno that answers every
 * request with a fixed 1 KiB JSON body. Same TLS stack, same SVIDs, same load
 * generator as Nexus: the ratio of a workload's throughput to this one's is
 * what we track, since absolute numbers depend on the machine.
 *
 * Given a folder, it is the floor of a design that reads the store once per
 * request instead: it seeds a Deno KV file there with 1,000 records of the
 * size of a secret's metadata record (1 KiB value), and answers each request
 * only after parsing its JSON body and reading the record its `path` names,
 * through the same per-turn grouped reads as Nexus's `kv` backend
 * (`nexus/store/kv.ts`). Nexus's get can only be slower than this by its
 * own work (routing, guard, AES-GCM, JSON, audit): that gap is ours to cut.
 *
 *   deno run -A [--unstable-kv] bench/baseline_server.ts SOCKET PORT [KV-FOLDER]
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { certChainPem, privateKeyPem } from "../lib/spiffe/x509svid.ts";
import { createX509Source } from "../lib/spiffe/workloadapi/x509source.ts";
import { openKvStore } from "../nexus/store/kv.ts";
import type { Store } from "../nexus/store/store.ts";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "../lib/http/body.ts";

/** Bytes of a path's metadata record holding a 1 KiB value (measured: 1,232). */
const RECORD_BYTES = 1232;

const [socket, port, kvFolder] = Deno.args;
const source = await createX509Source({ address: `unix://${socket}`, timeoutMs: 10_000 });
const svid = source.getX509Svid();
const body = JSON.stringify({ data: { v: "x".repeat(1024 - 16) } });
const store = kvFolder ? await openKvStore(kvFolder) : undefined;
if (store) {
  for (let i = 0; i < 1000; i += 100) {
    const tx = store.atomic();
    for (let j = i; j < i + 100; j++) {
      tx.set(["secret-meta", `bench/s/${j}`], crypto.getRandomValues(new Uint8Array(RECORD_BYTES)));
    }
    await tx.commit();
  }
}

const server = https.createServer({
  key: privateKeyPem(svid),
  cert: certChainPem(svid),
  ca: source.getBundles().allAuthoritiesPem(),
  requestCert: true,
  rejectUnauthorized: true,
}, (req, res) => {
  if (store) {
    // A body that is not the get workload's JSON is a 400, never a crash of the floor.
    readThenAnswer(store, req, res).catch(() => res.headersSent || res.writeHead(400).end());
    return;
  }
  req.on("data", () => {});
  req.on("end", () => answer(res));
});
server.keepAliveTimeout = 30_000;
server.listen(Number(port), "127.0.0.1", () => console.error("baseline ready"));

function answer(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

/** The floor: the body read as Nexus reads one (`lib/http/body.ts`), then the record it names. */
async function readThenAnswer(store: Store, req: IncomingMessage, res: ServerResponse) {
  const { path } = JSON.parse(
    new TextDecoder().decode(await readBody(req, DEFAULT_MAX_BODY_BYTES)),
  );
  if (await store.get(["secret-meta", String(path)])) answer(res);
  else res.writeHead(404).end();
}
