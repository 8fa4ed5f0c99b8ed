/**
 * A workload reading a secret with its own SPIFFE identity, and failing the
 * way a CLI does: one sentence on stderr and an exit code (2 usage, 3 not
 * found, 4 no identity or no policy, 6 Nexus unreachable), never a stack
 * trace. Against the dev stack (`deno task dev`), as the demo workload:
 *
 *   S=$PWD/.spike/agent/sockets/demo-workload.sock
 *   SPIFFE_ENDPOINT_SOCKET=unix://$S deno run --allow-env=SPIFFE_ENDPOINT_SOCKET,SPIKE_*,GRPC_* \
 *     --allow-net=unix:$S,localhost:8553 --allow-read=$S --allow-write=$S \
 *     examples/read_secret.ts tenants/demo/db user
 *
 * @module
 */

import { ApiResponseError, connectNexus } from "../lib/client/mod.ts";

function fail(message: string, code: number): never {
  console.error(`read_secret: ${message}`);
  Deno.exit(code);
}

const [path, key, ...extra] = Deno.args;
if (path === undefined || extra.length > 0) fail("usage: read_secret.ts PATH [KEY]", 2);

// A missing socket would otherwise be retried for the source timeout (30 s): say so at once.
const socket = Deno.env.get("SPIFFE_ENDPOINT_SOCKET") ?? "";
if (socket.startsWith("unix://")) {
  const file = socket.slice("unix://".length);
  try {
    await Deno.stat(file);
  } catch {
    fail(
      `no Workload API socket at ${file}; start the agent (deno task dev), or fix ` +
        "SPIFFE_ENDPOINT_SOCKET",
      4,
    );
  }
}

let nexus;
try {
  nexus = await connectNexus(); // SPIFFE_ENDPOINT_SOCKET, SPIKE_NEXUS_API_URL
} catch (e) {
  fail(`no identity from the Workload API: ${(e as Error).message}`, 4);
}
try {
  const secret = await nexus.getSecret(path);
  if (key !== undefined && !(key in secret)) fail(`${path} has no key ${key}`, 3);
  console.log(key !== undefined ? secret[key] : Object.keys(secret).sort().join(","));
} catch (e) {
  if (e instanceof ApiResponseError && e.code === "access_unauthorized") {
    fail(`no policy lets this workload read ${path}`, 4);
  }
  if (e instanceof ApiResponseError && e.code === "api_not_found") {
    fail(`secret ${path} not found`, 3);
  }
  if (e instanceof ApiResponseError) fail(`Nexus answered ${e.status} (${e.code})`, 1);
  fail(`cannot reach SPIKE Nexus: ${(e as Error).message}`, 6);
} finally {
  nexus.close();
}
