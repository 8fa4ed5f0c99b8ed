/**
 * The dev agent: a SPIFFE Workload API for development and tests.
 *
 *   agent serve [--data-dir DIR] [--socket-dir DIR] [--trust-domain TD] [--ttl 1h]
 *               [--registration FILE | --identity SOCKET[=SPIFFE_ID] ...]
 *   agent fetch x509 [--socket-path PATH] [--write DIR] [--output pretty|json]
 *               [--timeout 5s] [--silent]
 *
 * Never needed in production, where SPIRE (or any Workload API) is used.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { parseGoDuration } from "../../lib/config/env.ts";
import { requireAccess } from "../../lib/config/permissions.ts";
import { parseSpiffeId, parseTrustDomain } from "../../lib/spiffe/id.ts";
import { endpointAddressFromEnv } from "../../lib/spiffe/endpoint.ts";
import { WorkloadApiClient } from "../../lib/spiffe/workloadapi/client.ts";
import { LocalCa } from "./ca.ts";
import { formatJson, formatPretty, writeFiles } from "./fetch.ts";
import {
  type AgentRegistrations,
  defaultRegistrations,
  parseRegistrationFile,
  type Registration,
  validateRegistrations,
} from "./registration.ts";
import { DevAgent } from "./server.ts";

const USAGE = `SPIKE dev agent: a SPIFFE Workload API for development and tests.

Usage:
  agent serve [options]        serve one unix socket per registered identity
  agent fetch x509 [options]   fetch X.509-SVIDs from a Workload API (this agent or SPIRE)

serve options:
  --data-dir DIR         CA and sockets live here (default .spike/agent)
  --socket-dir DIR       sockets folder (default <data-dir>/sockets)
  --trust-domain TD      trust domain (default spike.ist)
  --ttl DURATION         leaf SVID lifetime, renewed at half-life (default 1h)
  --registration FILE    JSON registrations (see dev/agent/registration.ts)
  --identity S[=ID]      serve ID on socket S.sock; without =ID the socket has no
                         identity (PERMISSION_DENIED). Repeatable. Without any
                         --identity or --registration, SPIKE's own identities are served.

fetch x509 options:
  --socket-path PATH     agent socket (default: SPIFFE_ENDPOINT_SOCKET)
  --write DIR            write svid.N.pem, svid.N.key, bundle.N.pem (spire-agent layout)
  --output pretty|json   output format (default pretty)
  --timeout DURATION     how long to wait (default 5s)
  --silent               print nothing
`;

class UsageError extends Error {}

function duration(flag: string, text: string): number {
  try {
    return parseGoDuration(text);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

function parseIdentityFlag(text: string): Registration {
  const eq = text.indexOf("=");
  if (eq === -1) return { socket: text };
  return { socket: text.slice(0, eq), spiffeId: parseSpiffeId(text.slice(eq + 1)) };
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      "data-dir": { type: "string", default: ".spike/agent" },
      "socket-dir": { type: "string" },
      "trust-domain": { type: "string", default: "spike.ist" },
      "ttl": { type: "string", default: "1h" },
      "registration": { type: "string" },
      "identity": { type: "string", multiple: true },
    },
    strict: true,
    allowPositionals: false,
  });
  const ttlMs = duration("ttl", values.ttl);
  if (ttlMs < 2000) throw new UsageError("--ttl must be at least 2s");
  let registrations: AgentRegistrations;
  if (values.registration) {
    if (values.identity) throw new UsageError("give --registration or --identity, not both");
    registrations = parseRegistrationFile(
      await Deno.readTextFile(values.registration),
      values.registration,
    );
  } else {
    const td = parseTrustDomain(values["trust-domain"]);
    const identities = values.identity?.map(parseIdentityFlag) ?? defaultRegistrations(td);
    validateRegistrations(td, identities);
    registrations = { trustDomain: td, identities, federatedBundles: {} };
  }
  const dataDir = resolve(values["data-dir"]);
  const socketDir = resolve(values["socket-dir"] ?? join(dataDir, "sockets"));
  requireAccess(
    "--data-dir",
    { kind: "read", path: dataDir },
    { kind: "write", path: dataDir },
  );
  for (const { socket } of registrations.identities) {
    requireAccess("--socket-dir", { kind: "unix-socket", path: join(socketDir, `${socket}.sock`) });
  }
  const ca = await LocalCa.loadOrCreate(dataDir, registrations.trustDomain);
  const agent = await DevAgent.start({
    ca,
    registrations,
    socketDir,
    ttlMs,
    log: (line) => console.error(`agent: ${line}`),
  });

  const lines = registrations.identities.map(({ socket, spiffeId }) =>
    `  unix://${agent.socketPath(socket)}  ${spiffeId ?? "(no identity)"}`
  );
  console.log(
    `ready: Workload API for trust domain ${registrations.trustDomain.name}, ` +
      `CA in ${join(dataDir, "ca.pem")}\n${lines.join("\n")}`,
  );

  const stop = async () => {
    await agent.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

async function fetchX509(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "socket-path": { type: "string" },
      "write": { type: "string" },
      "output": { type: "string", default: "pretty" },
      "timeout": { type: "string", default: "5s" },
      "silent": { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.output !== "pretty" && values.output !== "json") {
    throw new UsageError(`--output must be "pretty" or "json", not "${values.output}"`);
  }
  const timeoutMs = duration("timeout", values.timeout);
  const address = values["socket-path"]
    ? `unix://${resolve(values["socket-path"])}`
    : endpointAddressFromEnv();
  const client = new WorkloadApiClient(address);
  if (client.endpoint.scheme === "unix") {
    requireAccess(
      values["socket-path"] ? "--socket-path" : "SPIFFE_ENDPOINT_SOCKET",
      { kind: "unix-socket", path: client.endpoint.path },
    );
  }
  if (values.write) requireAccess("--write", { kind: "write", path: values.write });
  const started = performance.now();
  try {
    const context = await client.fetchX509Context(timeoutMs);
    const elapsed = performance.now() - started;
    if (values.write) await writeFiles(context, values.write);
    if (!values.silent) {
      console.log(values.output === "json" ? formatJson(context) : formatPretty(context, elapsed));
      if (values.write) console.log(`Writing SVIDs to ${values.write}`);
    }
    return 0;
  } finally {
    client.close();
  }
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "serve") {
    await serve(rest);
    return -1; // keep running until a signal
  }
  if (command === "fetch") {
    const [what, ...flags] = rest;
    if (what !== "x509") {
      throw new UsageError(`"fetch ${what ?? ""}" is not known; try "fetch x509"`);
    }
    return await fetchX509(flags);
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown command "${command}"`);
}

if (import.meta.main) {
  try {
    const code = await main(Deno.args);
    if (code >= 0) Deno.exit(code);
  } catch (e) {
    const usage = e instanceof UsageError ||
      String((e as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS");
    console.error(`agent: ${(e as Error).message}${usage ? "\n(run with --help for usage)" : ""}`);
    Deno.exit(usage ? 2 : 1);
  }
}
