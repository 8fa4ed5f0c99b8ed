/**
 * Connecting a workload to Nexus with its own SVID: the Workload API at
 * `SPIFFE_ENDPOINT_SOCKET`, Nexus at `SPIKE_NEXUS_API_URL` (one URL or a comma list of
 * replicas, failed over between), the server
 * authorized as a SPIKE Nexus (`SPIKE_TRUST_ROOT_NEXUS`), and upstream's
 * `SPIKE_HTTP_CLIENT_*` settings.
 *
 * @module
 */

import { envDuration, envInt } from "../config/env.ts";
import { nexusUrlsFromEnv } from "../config/nexus_url.ts";
import { roleMatcher } from "../identity/roles.ts";
import { type IdentitySource, openIdentitySource } from "../identity/source.ts";
import { adaptMatcher } from "../tls/authorize.ts";
import { createMtlsAgent } from "../tls/client.ts";
import { NexusClient } from "./nexus.ts";

/** Client transport settings, from upstream's variables. */
export interface HttpClientSettings {
  /** `SPIKE_HTTP_CLIENT_TIMEOUT` (default 60s): the whole request. */
  timeoutMs: number;
  /** `SPIKE_HTTP_CLIENT_IDLE_CONN_TIMEOUT` (default 30s): idle pooled connections close. */
  idleTimeoutMs: number;
  /** `SPIKE_HTTP_CLIENT_MAX_CONNS_PER_HOST` (default 10). */
  maxConnsPerHost: number;
}

/** Reads the client settings; a bad value throws, naming it. */
export function httpClientSettingsFromEnv(): HttpClientSettings {
  return {
    timeoutMs: envDuration("SPIKE_HTTP_CLIENT_TIMEOUT", 60_000, { min: 1 }),
    idleTimeoutMs: envDuration("SPIKE_HTTP_CLIENT_IDLE_CONN_TIMEOUT", 30_000, { min: 1 }),
    maxConnsPerHost: envInt("SPIKE_HTTP_CLIENT_MAX_CONNS_PER_HOST", 10, { min: 1 }),
  };
}

/** A Nexus client that owns its identity source and connections. */
export class NexusConnection extends NexusClient {
  readonly #close: () => void;

  /** @internal Use {@link connectNexus}. */
  constructor(client: ConstructorParameters<typeof NexusClient>[0], close: () => void) {
    super(client);
    this.#close = close;
  }

  /** Closes the connections and stops following the Workload API. */
  close(): void {
    this.#close();
  }
}

/** Options for {@link connectNexus}; everything defaults to the environment. */
export interface ConnectOptions {
  /** Nexus URL or replicas' URLs (default `SPIKE_NEXUS_API_URL`, else `https://localhost:8553`). */
  url?: string | readonly string[];
  /** Workload API address (default `SPIFFE_ENDPOINT_SOCKET`; SVID files when `SPIKE_SVID_*_FILE` are set). */
  workloadApi?: string;
  /** An identity source to use instead of opening one from the environment. */
  source?: IdentitySource;
  settings?: Partial<HttpClientSettings>;
}

/**
 * Connects to Nexus as this workload. Call `close()` when done.
 *
 * ```ts
 * const nexus = await connectNexus();
 * const db = await nexus.getSecret("tenants/demo/db/creds");
 * nexus.close();
 * ```
 */
export async function connectNexus(options: ConnectOptions = {}): Promise<NexusConnection> {
  const settings = { ...httpClientSettingsFromEnv(), ...options.settings };
  const url = options.url ?? nexusUrlsFromEnv();
  const isNexus = roleMatcher("nexus");
  const source = options.source ?? await openIdentitySource({ address: options.workloadApi });
  const agent = createMtlsAgent({
    source,
    authorizer: adaptMatcher(isNexus, "a SPIKE Nexus ID"),
    idleTimeoutMs: settings.idleTimeoutMs,
    maxSockets: settings.maxConnsPerHost,
  });
  return new NexusConnection({ url, agent, timeoutMs: settings.timeoutMs }, () => {
    agent.close();
    if (!options.source) source.close();
  });
}
