/**
 * A workload reading a secret with its own SPIFFE identity:
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/spire/sockets/agent.sock \
 *   SPIKE_NEXUS_API_URL=https://nexus.example:8553 \
 *   deno run --allow-env --allow-net --allow-read --allow-write examples/read_secret.ts tenants/demo/db user
 *
 * (narrow those flags to your socket and Nexus address, as the README shows).
 *
 * @module
 */

import { ApiResponseError, connectNexus } from "../lib/client/mod.ts";

const [path, key] = Deno.args;
const nexus = await connectNexus();
try {
  const secret = await nexus.getSecret(path);
  console.log(key ? secret[key] : Object.keys(secret).sort().join(","));
} catch (e) {
  if (e instanceof ApiResponseError && e.code === "access_unauthorized") {
    console.error(`no policy lets this workload read ${path}`);
    Deno.exit(4);
  }
  throw e;
} finally {
  nexus.close();
}
