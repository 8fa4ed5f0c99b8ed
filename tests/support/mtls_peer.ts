/**
 * A stand-alone mTLS peer for the tests: runs our server or our client in its own process (TLS
 * session state must not be shared with the test process; see the module notes of
 * lib/tls/server.ts).
 *
 * Usage: `deno run --allow-read=<pki dir> --allow-net=127.0.0.1 mtls_peer.ts '<json config>'`.
 * It prints one JSON object per line on stdout (events). Server mode: `listening` (with the
 * port), `request`, `refused`, `rotated` (after SIGHUP re-reads the files), `closed` (after
 * SIGTERM). Client mode: one `response` or `error`, then exit.
 *
 * @module
 */

import { X509Bundle, X509BundleSet } from "../../lib/spiffe/bundle.ts";
import { parseTrustDomain } from "../../lib/spiffe/id.ts";
import { StaticX509Source } from "../../lib/spiffe/source.ts";
import { parseX509Svid } from "../../lib/spiffe/x509svid.ts";
import {
  authorizeAny,
  authorizeID,
  authorizeMemberOf,
  authorizeOneOf,
  type Authorizer,
} from "../../lib/tls/authorize.ts";
import { createMtlsAgent } from "../../lib/tls/client.ts";
import { createMtlsServer } from "../../lib/tls/server.ts";

/** What the peer is told to do. */
export interface PeerConfig {
  mode: "server" | "client";
  /** Certificate chain PEM file (leaf first) and PKCS#8 key PEM file. */
  cert: string;
  key: string;
  /** Trust domain name → bundle PEM file. */
  bundles: Record<string, string>;
  /** Whom to accept. */
  authorize: { any: true } | { id: string } | { oneOf: string[] } | { memberOf: string };
  /** Client: URL to POST to, and the JSON body. */
  url?: string;
  body?: unknown;
  /** Server timeouts. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
}

function emit(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}

function authorizerOf(spec: PeerConfig["authorize"]): Authorizer {
  if ("any" in spec) return authorizeAny();
  if ("id" in spec) return authorizeID(spec.id);
  if ("oneOf" in spec) return authorizeOneOf(...spec.oneOf);
  return authorizeMemberOf(spec.memberOf);
}

function load(config: PeerConfig) {
  const svid = parseX509Svid(Deno.readTextFileSync(config.cert), Deno.readTextFileSync(config.key));
  const bundles = new X509BundleSet(
    Object.entries(config.bundles).map(([td, file]) =>
      X509Bundle.parse(parseTrustDomain(td), Deno.readTextFileSync(file))
    ),
  );
  return { svid, bundles };
}

async function runServer(config: PeerConfig, source: StaticX509Source): Promise<void> {
  const server = createMtlsServer({
    source,
    authorizer: authorizerOf(config.authorize),
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    onRefused: (reason, peer) => emit({ event: "refused", reason, peer }),
    onError: (e) => emit({ event: "error", message: e.message }),
    handler: async (req, res, peer) => {
      const chunks: Uint8Array[] = [];
      for await (const c of req) chunks.push(c as Uint8Array);
      const body = new TextDecoder().decode(
        chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
      );
      emit({ event: "request", peer: peer.toString(), path: req.url, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ peer: peer.toString(), path: req.url, body }));
    },
  });
  Deno.addSignalListener("SIGHUP", () => {
    try {
      const next = load(config);
      source.update(next.svid, next.bundles);
      emit({ event: "rotated" });
    } catch (e) {
      emit({ event: "error", message: (e as Error).message });
    }
  });
  Deno.addSignalListener("SIGTERM", async () => {
    await server.close();
    emit({ event: "closed" });
    Deno.exit(0);
  });
  const { port } = await server.listen(0, "127.0.0.1");
  emit({ event: "listening", port });
}

async function runClient(config: PeerConfig, source: StaticX509Source): Promise<void> {
  const agent = createMtlsAgent({ source, authorizer: authorizerOf(config.authorize) });
  try {
    const res = await agent.postJson(config.url ?? "", config.body ?? {}, { timeoutMs: 10_000 });
    emit({ event: "response", status: res.status, body: new TextDecoder().decode(res.body) });
  } catch (e) {
    emit({ event: "error", message: (e as Error).message });
  } finally {
    agent.close();
  }
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]) as PeerConfig;
  const { svid, bundles } = load(config);
  const source = new StaticX509Source(svid, bundles);
  if (config.mode === "server") await runServer(config, source);
  else await runClient(config, source);
}
